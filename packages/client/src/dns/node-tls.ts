// Node only: TLS to an address found by our own resolvers, verified against the host name.
import type { PeerCertificate, SecureVersion, TLSSocket } from 'node:tls';
import { checkServerIdentity, connect } from 'node:tls';
import { abortReason } from './dns-errors.js';
import { ipFamily } from './ip.js';

export interface TlsConnectByIpOptions {
  /** The IP address to connect to (from a resolver). */
  address: string;
  port: number;
  /**
   * The server's name: sent as SNI and the name the certificate must be valid for. When it
   * is itself an IP address no SNI is sent (RFC 6066 allows names only) and the certificate
   * must carry that IP.
   */
  hostname: string;
  /** Trusted CA certificates (PEM); default Node's bundled roots. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Abandons the connect: the socket is destroyed and the promise rejects with the reason. */
  signal?: AbortSignal;
  /** Handshake and connect time limit. Default 10 s. */
  timeoutMs?: number;
  /** ALPN protocols to offer. */
  ALPNProtocols?: string[];
  /** Lowest TLS version accepted; default Node's (TLSv1.2). The TLS transport uses 'TLSv1.3'. */
  minVersion?: SecureVersion;
}

/**
 * Opens a TLS connection to `address:port` as if connecting to `hostname`: the TCP
 * connection goes to the IP (DNS was done by HTTPDNS or the IP list, not by the system),
 * while SNI and certificate verification use the name. The certificate chain is always
 * verified (`rejectUnauthorized` cannot be turned off here). Resolves once the handshake
 * is done and the certificate checked.
 */
export function tlsConnectByIp(options: TlsConnectByIpOptions): Promise<TLSSocket> {
  const { address, port, hostname, signal } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise<TLSSocket>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const socket = connect({
      host: address,
      port,
      ...(ipFamily(hostname) === undefined ? { servername: hostname } : {}),
      // Node would check against `servername || host`; say it explicitly so the IP is never used.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(hostname, cert),
      rejectUnauthorized: true,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.ALPNProtocols === undefined ? {} : { ALPNProtocols: options.ALPNProtocols }),
      ...(options.minVersion === undefined ? {} : { minVersion: options.minVersion }),
    });
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('secureConnect', onSecure);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onSecure = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: Error) => {
      fail(err);
    };
    const onAbort = () => {
      fail(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      const err = new Error(`TLS connect to ${address}:${port} (${hostname}) timed out after ${timeoutMs} ms`);
      err.name = 'TimeoutError';
      fail(err);
    }, timeoutMs);
    socket.once('secureConnect', onSecure);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
