// What a load worker needs from each system under test: connect and authenticate one user,
// resolve where a 1:1 message goes, join a room, send, heartbeat, catch up after a reconnect.
// One implementation per system (Parley and the bare anchor share the Parley one).

/** `baseline` is another Parley server build (--baseline) measured beside the current one. */
export type SystemName = 'parley' | 'baseline' | 'bare' | 'socketio' | 'mosquitto' | 'ejabberd';

/** Where and how a worker reaches a system: sent by the coordinator with `open`. */
export interface Endpoint {
  system: SystemName;
  host: string;
  /** One port per server process; clients are spread over them by index. */
  ports: number[];
  /** Parley: the app secret user tokens are signed with. */
  secret?: string;
}

export interface Incoming {
  text: string;
  /** Parley: the conversation and its seq (for sync after a reconnect). */
  conversationId?: string;
  seq?: number;
}

export interface ClientEvents {
  onMessage(message: Incoming): void;
  /** The connection closed without `close()` being called. */
  onDrop(): void;
}

export interface ConnectOptions {
  user: string;
  /** Loopback source address to bind the client socket to. */
  localAddress: string;
  /** Server process (index into `Endpoint.ports`). */
  server: number;
  /** Keep state across reconnects (MQTT persistent session; Parley and XMPP always do). */
  persistent: boolean;
  /** Heartbeat interval the client announces, ms. */
  heartbeatMs: number;
  /** Kept by the worker per user across reconnects: a driver's sync position lives here. */
  memory: Record<string, unknown>;
}

export interface BenchClient {
  /** The address to send 1:1 messages to `peer` (Parley creates the DIRECT conversation). */
  direct(peer: string): Promise<string>;
  /** Remember that `peer` writes to us 1:1, so a catch-up after a reconnect covers that conversation. */
  expectFrom(peer: string): void;
  /** Join a room (Parley chat room, Socket.IO room, MQTT topic, XMPP MUC). Resolves with its send address. */
  joinRoom(room: string): Promise<string>;
  /** Create a stored group of these members (Parley only; others use rooms). */
  createGroup?(members: readonly string[]): Promise<string>;
  /** Sends; `onAck` runs when the system acknowledged durable (or accepted) receipt. */
  send(target: string, text: string, onAck: (ok: boolean) => void): void;
  /** One heartbeat (where the system has no built-in one). */
  ping(): void;
  /** Fetch what was missed while offline (after connect). */
  catchUp(): Promise<void>;
  /** Abrupt close (no goodbye): the peer sees the socket drop. */
  destroy(): void;
}

export type Connect = (endpoint: Endpoint, options: ConnectOptions, events: ClientEvents) => Promise<BenchClient>;
