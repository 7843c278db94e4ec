export { PgChangeLog, type PgChangeLogOptions } from './pg-change-log.js';
