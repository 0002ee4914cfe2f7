// @parley/server: the Parley IM server.
export { startServer, type ServerAddresses, type ServerOptions, type StartedServer } from './server.js';
export { type Config, type ConfigInput, ConfigError, configSchema, loadConfig, parseConfig } from './config.js';
export { TokenVerifier, issueToken, type TokenIdentity } from './auth/tokens.js';
export { createLogger, type Logger } from './logger.js';
export type { Store } from './store/types.js';
export { openStore, redactStoreUrl } from './store/open.js';
export { directConversationId } from './services/conversations.js';
export { loadOrCreateSecret } from './secrets.js';
export { installHttpApi, createHttpApp, type HttpApiParts, type HttpApiOptions } from './http/api.js';
export { HttpWebhooks, type HttpWebhooksOptions } from './services/webhooks.js';
export type {
  PushStore,
  PushDevice,
  PushSettings,
  PushJob,
  PushEnqueueItem,
  PushTarget,
  PushProviderName,
} from './push/types.js';
