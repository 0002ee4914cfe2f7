// Node only: TLS transport (TLS 1.3 by default).
import { isIP } from 'node:net';
import { type PeerCertificate, type SecureVersion, checkServerIdentity, connect } from 'node:tls';
import { dialResolved } from './node-resolved.js';
import type { Transport } from './types.js';
import { type StreamTransportOptions, connectStream } from './node-stream.js';

export interface TlsTransportOptions extends StreamTransportOptions {
  /**
   * The server's name, sent as SNI and checked against its certificate. Default: `host` when
   * it is a name. Set it when `host` is an IP address (DNS resolved elsewhere, HTTPDNS, an IP
   * list), so the certificate is still checked against the name.
   */
  servername?: string;
  /** Extra trusted CA certificates (PEM), e.g. a development certificate. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Default true. Turn off only in tests. */
  rejectUnauthorized?: boolean;
  /** Default 'TLSv1.3'. */
  minVersion?: SecureVersion;
}

/** A transport over TLS (the server's default port 7101). */
export function tlsTransport(options: TlsTransportOptions): Transport {
  const { host, port, localAddress, ca, rejectUnauthorized } = options;
  const servername = options.servername ?? (isIP(host) === 0 ? host : undefined);
  const remote = `tls://${servername ?? host}@${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    name: 'tls',
    connect: (handlers, signal) =>
      dialResolved(
        host,
        options,
        (address, attemptSignal) =>
          connectStream(
            () =>
              connect({
                host: address,
                port,
                minVersion: options.minVersion ?? 'TLSv1.3',
                ...(servername !== undefined ? { servername } : {}),
                // Connected by IP, the certificate is still checked against the name.
                ...(servername !== undefined
                  ? {
                      checkServerIdentity: (_ip: string, cert: PeerCertificate) =>
                        checkServerIdentity(servername, cert),
                    }
                  : {}),
                ...(ca !== undefined ? { ca } : {}),
                ...(rejectUnauthorized !== undefined ? { rejectUnauthorized } : {}),
                ...(localAddress ? { localAddress } : {}),
              }),
            'secureConnect',
            remote,
            options.maxBodyBytes,
            handlers,
            attemptSignal,
          ),
        signal,
      ),
  };
}
