// A stand-in for a carrier NAT, for tests: a TCP proxy that silently forgets idle mappings.
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

/** Options of {@link NatProxy}. */
export interface NatProxyOptions {
  /** A mapping idle (no byte in either direction) longer than this is forgotten. */
  idleTimeoutMs: number;
  /** Where each client connection is forwarded. */
  target: { host: string; port: number };
  /** The address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** The clock, in milliseconds. Default `performance.now` (monotonic). */
  now?: () => number;
}

/** Counters of {@link NatProxy.mappings}. */
export interface NatMappingStats {
  /** Mappings forwarding now. */
  active: number;
  /** Mappings forgotten so far (idle or cut), whether or not their sockets are still open. */
  forgotten: number;
  /** Forgotten mappings whose sockets are still held open (blackholed, never closed by the proxy). */
  blackholed: number;
  /** Mappings ever created (one per accepted client connection). */
  total: number;
  /** Bytes forwarded, both directions. */
  forwardedBytes: number;
  /** Bytes discarded because their mapping was forgotten, both directions. */
  droppedBytes: number;
}

type ForgetReason = 'idle' | 'cut';

interface Mapping {
  client: Socket;
  upstream: Socket | undefined;
  lastActivity: number;
  forgotten: ForgetReason | undefined;
}

/**
 * A TCP proxy that behaves like a carrier NAT: each client connection (a "mapping") is
 * forwarded to the target, and a mapping idle for longer than `idleTimeoutMs` (no byte in
 * either direction) is forgotten silently. From then on nothing is forwarded either way and
 * no FIN or RST is sent to anyone: bytes, FINs and resets from either side are discarded and
 * both sockets are held open until the peer closes them or the proxy closes. Neither end
 * learns anything; only an application timeout can tell.
 *
 * Idleness is checked when a byte (or FIN, or reset) arrives and when {@link mappings} is
 * read, so no timer runs. One difference from a real NAT: the proxy's kernel still
 * acknowledges the bytes it discards, so a sender's TCP never retransmits or times out.
 *
 * {@link cut} blackholes everything for a while (a dead radio, a rebooting NAT): all current
 * mappings are forgotten for good, and connections accepted during the cut are held open
 * but never forwarded. After the cut, new connections work again. (Existing mappings cannot
 * resume: the proxy forwards a byte stream, and dropped bytes cannot be replayed.)
 */
export class NatProxy {
  readonly idleTimeoutMs: number;
  readonly #target: { host: string; port: number };
  readonly #host: string;
  readonly #now: () => number;
  readonly #server: Server;
  readonly #mappings = new Set<Mapping>();
  #cutUntil = -Infinity;
  #total = 0;
  #forgotten = 0;
  #forwardedBytes = 0;
  #droppedBytes = 0;

  constructor(options: NatProxyOptions) {
    this.idleTimeoutMs = options.idleTimeoutMs;
    this.#target = options.target;
    this.#host = options.host ?? '127.0.0.1';
    this.#now = options.now ?? (() => performance.now());
    this.#server = createServer({ allowHalfOpen: true }, (client) => {
      this.#accept(client);
    });
  }

  /** Starts listening; resolves with the port (pass 0, the default, for any free port). */
  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, this.#host, () => {
        this.#server.off('error', reject);
        resolve(this.port);
      });
    });
  }

  /** The port listened on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** True while a {@link cut} is in force. */
  get cutting(): boolean {
    return this.#now() < this.#cutUntil;
  }

  /**
   * Blackholes everything for `ms` (default: until {@link restore}): every current mapping
   * is forgotten, and connections accepted meanwhile are never forwarded. `cut(0)` only
   * forgets the current mappings (a NAT reboot).
   */
  cut(ms = Infinity): void {
    this.#cutUntil = this.#now() + ms;
    for (const mapping of this.#mappings) this.#forget(mapping, 'cut');
  }

  /** Ends a {@link cut} early. Mappings it forgot stay forgotten. */
  restore(): void {
    this.#cutUntil = -Infinity;
  }

  /** Counters; idle mappings are forgotten first, so the counts are current. */
  mappings(): NatMappingStats {
    const now = this.#now();
    let active = 0;
    let blackholed = 0;
    for (const mapping of this.#mappings) {
      this.#checkIdle(mapping, now);
      if (mapping.forgotten) blackholed++;
      else active++;
    }
    return {
      active,
      forgotten: this.#forgotten,
      blackholed,
      total: this.#total,
      forwardedBytes: this.#forwardedBytes,
      droppedBytes: this.#droppedBytes,
    };
  }

  /** Stops listening and destroys every socket (test teardown: this is the one time the proxy closes anything). */
  close(): Promise<void> {
    for (const { client, upstream } of this.#mappings) {
      client.destroy();
      upstream?.destroy();
    }
    this.#mappings.clear();
    return new Promise((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  #accept(client: Socket): void {
    this.#total++;
    const mapping: Mapping = { client, upstream: undefined, lastActivity: this.#now(), forgotten: undefined };
    this.#mappings.add(mapping);
    client.setNoDelay(true);
    if (this.cutting) {
      this.#forget(mapping, 'cut'); // the SYN went into the void: held open, never forwarded
    } else {
      const upstream = connect({ ...this.#target, allowHalfOpen: true });
      upstream.setNoDelay(true);
      mapping.upstream = upstream;
      this.#wire(mapping, upstream, client);
    }
    this.#wire(mapping, client, mapping.upstream);
  }

  /** Wires events from `from` towards `to` (`undefined` when there is no upstream). */
  #wire(mapping: Mapping, from: Socket, to: Socket | undefined): void {
    from.on('data', (chunk: Buffer) => {
      if (!this.#pass(mapping) || !to) {
        this.#droppedBytes += chunk.length;
        return;
      }
      this.#forwardedBytes += chunk.length;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.on('end', () => {
      if (this.#pass(mapping)) to?.end();
    });
    from.on('error', () => {
      // A reset from one side reaches the other only while the mapping lives.
      if (this.#pass(mapping)) to?.resetAndDestroy();
    });
    from.on('close', () => {
      const other = from === mapping.client ? mapping.upstream : mapping.client;
      if (!other || other.destroyed) this.#mappings.delete(mapping);
    });
  }

  /** Whether traffic (or a FIN or reset) may pass now; refreshes the mapping when it does. */
  #pass(mapping: Mapping): boolean {
    const now = this.#now();
    if (this.cutting) this.#forget(mapping, 'cut');
    this.#checkIdle(mapping, now);
    if (mapping.forgotten) return false;
    mapping.lastActivity = now;
    return true;
  }

  #checkIdle(mapping: Mapping, now: number): void {
    if (!mapping.forgotten && now - mapping.lastActivity > this.idleTimeoutMs) this.#forget(mapping, 'idle');
  }

  #forget(mapping: Mapping, reason: ForgetReason): void {
    if (mapping.forgotten) return;
    mapping.forgotten = reason;
    this.#forgotten++;
    // Keep reading both sides so senders are never stalled by a full buffer; the bytes are discarded.
    mapping.client.resume();
    mapping.upstream?.resume();
  }
}
