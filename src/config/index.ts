// Configuration: typed, validated once, secrets wrapped.
export type { AnimusConfig, AnimusOptions, EmbeddingProvider, LogLevel } from './config.js';
export {
  configFromEnv,
  defaultDataDir,
  ENV_VARIABLES,
  LOCAL_EMBEDDING_DIMENSIONS,
  LOCAL_EMBEDDING_MODEL,
  resolveConfig,
} from './config.js';
export { Secret, secretOrUndefined } from './secret.js';
