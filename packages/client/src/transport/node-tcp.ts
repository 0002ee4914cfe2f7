// Node only: plain TCP transport.
import { connect } from 'node:net';
import { dialResolved } from './node-resolved.js';
import type { Transport } from './types.js';
import { type StreamTransportOptions, connectStream } from './node-stream.js';

export type TcpTransportOptions = StreamTransportOptions;

/** A transport over plain TCP (the server's default port 7100). */
export function tcpTransport(options: TcpTransportOptions): Transport {
  const { host, port, localAddress } = options;
  const remote = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    name: 'tcp',
    connect: (handlers, signal) =>
      dialResolved(
        host,
        options,
        (address, attemptSignal) =>
          connectStream(
            () => connect({ host: address, port, ...(localAddress ? { localAddress } : {}) }),
            'connect',
            remote,
            options.maxBodyBytes,
            handlers,
            attemptSignal,
          ),
        signal,
      ),
  };
}
