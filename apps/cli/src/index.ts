export { CLI_ENTRY, startCommand, type ChildCommand, type StartOptions } from './processes.js';
