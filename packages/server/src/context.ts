import type { FrameCodec } from '@parley/protocol';
import type { TokenVerifier } from './auth/tokens.js';
import type { Bus } from './bus/types.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { GroupCommitter } from './services/group-commit.js';
import type { MessageService } from './services/messages.js';
import type { Webhooks } from './services/webhooks-types.js';
import type { ConversationService } from './services/conversations.js';
import type { PresenceService } from './services/presence.js';
import type { PushService } from './push/service.js';
import type { RoomService } from './services/rooms.js';
import type { SessionRegistry } from './session/registry.js';
import type { Store } from './store/types.js';

/** Everything a handler or service may use, built once per server by `createServer`. */
export interface ServerContext {
  readonly config: Config;
  readonly store: Store;
  readonly bus: Bus;
  readonly registry: SessionRegistry;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Shared encoder (server-side options: compression above the configured size). */
  readonly codec: FrameCodec;
  readonly tokens: TokenVerifier;
  readonly commits: GroupCommitter;
  readonly messages: MessageService;
  readonly conversations: ConversationService;
  readonly webhooks: Webhooks;
  readonly rooms: RoomService;
  readonly presence: PresenceService;
  readonly push: PushService;
  /** True once shutdown began: new logins are refused with SHUTTING_DOWN. */
  draining: boolean;
}
