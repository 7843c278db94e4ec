export { HubConfigSchema, type HubConfig } from './config.js';
export { startHub, type RunningHub } from './hub-server.js';
export { MIN_SECRET_LENGTH, signStoreToken, verifyStoreToken } from './token.js';
export { YJS_PATH_PREFIX, YjsReadEndpoint } from './yjs-endpoint.js';
