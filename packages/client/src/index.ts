// @parley/client: the isomorphic SDK core (no Node built-ins). Node transports: '@parley/client/node'.
export { Connection, CLIENT_VERSION } from './connection/connection.js';
export type {
  ConnectionEvents,
  ConnectionOptions,
  ConnectionState,
  DisconnectInfo,
  Push,
  SessionInfo,
} from './connection/types.js';
export { Backoff, type BackoffOptions } from './connection/backoff.js';
export {
  type AppVisibility,
  FixedHeartbeat,
  type FixedHeartbeatOptions,
  type HeartbeatFailure,
  type HeartbeatPolicy,
} from './connection/heartbeat-policy.js';
export type { HeartbeatInfo } from './connection/liveness.js';
export type { ReadyOptions } from './connection/ready.js';
export { Priority, type RequestOptions, type TaskCommand, type TaskDefaults } from './tasks/types.js';
export { ClientError, ClientErrorCode, TERMINAL_KICKS, isRetryable } from './errors.js';
export { Emitter, type EventMap } from './events.js';
export type { Link, LinkHandlers, Transport } from './transport/types.js';
export {
  type WebSocketConstructor,
  type WebSocketEventLike,
  type WebSocketLike,
  type WebSocketTransportOptions,
  webSocketTransport,
} from './transport/websocket.js';
export {
  Command,
  ErrorCode,
  FRAME_CONTENT_TYPE,
  ParleyError,
  ProtocolError,
  SHORT_LINK_COMMANDS,
  SHORT_LINK_MAX_FRAMES,
  SHORT_LINK_PATH,
  pb,
} from '@parley/protocol';
export {
  DEFAULT_HEARTBEAT_CONFIG,
  type HeartbeatTransition,
  type NetworkHeartbeatState,
  SmartHeartbeat,
  type SmartHeartbeatConfig,
  type SmartHeartbeatOptions,
} from './heartbeat/index.js';
export { type KeyValueStore, MemoryKeyValueStore } from './storage/key-value.js';
// DNS (HTTPDNS, IP lists, happy eyeballs) serves the Node transports: '@parley/client/dns' or '/node'.
export type { ResolvedAddress, Resolver, ServerEndpoints } from './dns/index.js';
export {
  type CreateConversationOptions,
  type CursorEvent,
  type JoinRoomOptions,
  type JoinedRoom,
  ParleyClient,
  type ParleyClientEvents,
  type ParleyClientOptions,
} from './client.js';
export { ShortLink, type ShortLinkEvents, type ShortLinkOptions } from './shortlink/short-link.js';
export { HttpLink, type HttpLinkOptions, ShortLinkError } from './shortlink/http-link.js';
export {
  DEFAULT_SHORT_LINK_POLICY,
  type LinkKind,
  ShortLinkPolicy,
  type ShortLinkPolicyOptions,
} from './shortlink/policy.js';
export { shortLinkUrl, shortLinkUrlFromEndpoints, shortLinkUrlOf } from './shortlink/url.js';
export type { FallbackChannel, FallbackPort } from './tasks/task-queue.js';
export { Outbox, type OutboxOptions } from './outbox/outbox.js';
export { KeyValueOutboxStore } from './outbox/outbox-store.js';
export type { OutboxEvents, OutboxMessage, OutboxRecord, OutboxState, OutboxStore } from './outbox/types.js';
export { ulid } from './outbox/ids.js';
export { Sync, type SyncOptions } from './sync/sync.js';
export { type ChatMessage, type SyncEvents, type SyncReport, toChatMessage } from './sync/types.js';
export { DeliveryReceipts } from './sync/delivery-receipts.js';
export { ConversationCache, type ConversationCacheOptions } from './cache/conversation-cache.js';
export type { CacheEvents, ConversationView } from './cache/types.js';
export {
  type IdbFactoryLike,
  IndexedDbKeyValueStore,
  type IndexedDbKeyValueStoreOptions,
} from './storage/indexeddb-store.js';
