import type { CodecOptions, CommandWith, PushOf, pb } from '@parley/protocol';
import type { TaskDefaults } from '../tasks/types.js';
import type { Transport } from '../transport/types.js';
import type { BackoffOptions } from './backoff.js';
import type { HeartbeatPolicy } from './heartbeat-policy.js';
import type { HeartbeatInfo } from './liveness.js';

/**
 * - `idle`: made, `connect()` not called yet.
 * - `connecting`: the transport is dialing (TCP connect, TLS handshake, WebSocket upgrade).
 * - `authenticating`: the link is up, LOGIN sent (or the token being fetched).
 * - `connected`: logged in; tasks flow, heartbeats run.
 * - `backing-off`: the link is gone; a new attempt is scheduled.
 * - `closed`: stopped by `close()`, a KICK that forbids reconnecting, or a login the server
 *   will never accept. `connect()` starts again.
 */
export type ConnectionState = 'idle' | 'connecting' | 'authenticating' | 'connected' | 'backing-off' | 'closed';

/** The session a login opened. */
export interface SessionInfo {
  readonly userId: string;
  readonly sessionId: string;
  /** Server clock at login (ms since the epoch). */
  readonly serverTime: number;
  /** `serverTime` minus the local clock when the answer arrived. */
  readonly clockOffsetMs: number;
  /** The user's conversation version on the server: sync when it is ahead of the local one. */
  readonly conversationVersion: number;
  /** The heartbeat interval the server accepted. */
  readonly heartbeatIntervalMs: number;
  readonly limits: pb.ServerLimits;
  /** False for this instance's first login, true for every login after a reconnect. */
  readonly reconnected: boolean;
  /** The transport's name and the link's remote address. */
  readonly transport: string;
  readonly remote: string;
}

/** A server push, its body typed by its command. */
export type Push = { [C in CommandWith<'push'>]: { command: C; body: PushOf<C> } }[CommandWith<'push'>];

export interface DisconnectInfo {
  /** Why the link ended or the attempt failed. */
  error: Error;
  /** Whether a login had succeeded on the link that ended. */
  wasConnected: boolean;
  /** When the next attempt starts; undefined when the connection is closed. */
  reconnectInMs: number | undefined;
}

export interface ConnectionEvents {
  state: (state: ConnectionState, previous: ConnectionState) => void;
  /** A login succeeded. The sync layer starts here (compare `conversationVersion`). */
  connected: (session: SessionInfo) => void;
  /** A link ended or an attempt failed (and what happens next). */
  disconnected: (info: DisconnectInfo) => void;
  /** Every push, KICK and GOAWAY included. Use `onPush` for one command. */
  push: (push: Push) => void;
  kicked: (kick: pb.Kick) => void;
  goaway: (goaway: pb.GoAway) => void;
  heartbeat: (info: HeartbeatInfo) => void;
  /**
   * Problems worth a log line that the connection handles itself: a refused login (after the
   * silent token refresh), a failing token provider, a server that broke the protocol.
   */
  error: (error: Error) => void;
}

export interface ConnectionOptions {
  transport: Transport;
  /**
   * Builds a transport for an alternative endpoint a GOAWAY names ("tcp://10.0.0.2:7100",
   * "wss://b.example/ws"); undefined for one it cannot reach. The attempt after such a
   * GOAWAY goes to the first endpoint it accepts; later attempts (after that link ends or
   * fails) go back to `transport`. Without it GOAWAY endpoints are ignored. Node's
   * `nodeEndpointTransport` covers the tcp, tls, ws and wss schemes.
   */
  endpointTransport?: (endpoint: string) => Transport | undefined;
  /**
   * Returns a login token (a JWT from the app's server). Called for the first login, and again
   * when the server says the token expired or is invalid; otherwise the last token is reused.
   */
  token: () => Promise<string>;
  /** Stable per installation: a second login with the same id replaces the first session. */
  deviceId: string;
  platform?: pb.Platform;
  /** Default "parley-js/<version>". */
  clientVersion?: string;
  /** Default FOREGROUND. */
  appState?: pb.AppState;
  /** BCP 47, for push notification templates. */
  locale?: string;
  /** The local conversation version, sent at login as `resume.conversation_version` (the sync layer provides it). */
  conversationVersion?: () => number | undefined;
  /** Default: a fixed 210 s interval with a 15 s ping timeout. */
  heartbeat?: HeartbeatPolicy;
  backoff?: BackoffOptions;
  /** Defaults for `request()`. */
  tasks?: Partial<TaskDefaults>;
  /** Dial timeout (TCP connect plus TLS handshake or WebSocket upgrade). Default 10 s (Mars). */
  connectTimeoutMs?: number;
  /** How long to wait for the LOGIN answer. Default 15 s. */
  loginTimeoutMs?: number;
  /** Frame limits and compression of outgoing bodies. */
  codec?: CodecOptions;
  /** Retry at once on the browser's `online` event (when `globalThis.addEventListener` exists). Default true. */
  watchOnline?: boolean;
}
