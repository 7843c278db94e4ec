export { HubConfigSchema, type HubConfig } from './config.js';
export { Credentials, type KeyInfo } from './credentials.js';
export { startHub, type RunningHub } from './hub-server.js';
export {
  DEFAULT_TOKEN_TTL_MS,
  MIN_SECRET_LENGTH,
  keyIdOf,
  signStoreToken,
  verifyStoreToken,
  type TokenRefusal,
} from './token.js';
export { YJS_PATH_PREFIX, YjsReadEndpoint } from './yjs-endpoint.js';
