// Small HTTP(S) JSON requests to one address, with the server's name in Host and SNI.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { type PeerCertificate, checkServerIdentity } from 'node:tls';
import { parseServerEndpoints } from '@parley/client/dns';
import { type EndpointsReport, describe, roundMs } from './report.js';

/** Where and how to reach the HTTP port. */
export interface HttpTarget {
  /** The IP address to connect to. */
  address: string;
  /** The server's name: Host header, SNI and the name the certificate must hold. */
  hostname: string;
  port: number;
  tls: boolean;
  /** Trusted CAs (PEM); undefined: Node's roots. */
  ca: string[] | undefined;
  insecure: boolean;
  timeoutMs: number;
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

/** The Host header value for a name and port ("[::1]:7180" for IPv6). */
export function hostHeader(hostname: string, port: number): string {
  return `${isIP(hostname) === 6 ? `[${hostname}]` : hostname}:${String(port)}`;
}

/** The URL a user would type for a path on the HTTP port (for reports). */
export function httpUrl(target: Pick<HttpTarget, 'hostname' | 'port' | 'tls'>, path: string, ws = false): string {
  const scheme = ws ? (target.tls ? 'wss' : 'ws') : target.tls ? 'https' : 'http';
  return `${scheme}://${hostHeader(target.hostname, target.port)}${path}`;
}

/** One request; resolves with the status and the body parsed as JSON (undefined when it is not JSON). */
export function requestJson(
  target: HttpTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<JsonResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const options = {
      host: target.address,
      port: target.port,
      method,
      path,
      headers: {
        host: hostHeader(target.hostname, target.port),
        accept: 'application/json',
        ...(payload === undefined
          ? {}
          : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
      },
      timeout: target.timeoutMs,
    };
    const tlsOptions = {
      ...(isIP(target.hostname) === 0 ? { servername: target.hostname } : {}),
      ...(target.ca === undefined ? {} : { ca: target.ca }),
      rejectUnauthorized: !target.insecure,
      // The certificate must name the server, not the address connected to.
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(target.hostname, cert),
    };
    const req = target.tls ? httpsRequest({ ...options, ...tlsOptions }) : httpRequest(options);
    req.on('timeout', () => {
      req.destroy(
        Object.assign(new Error(`no answer within ${String(target.timeoutMs)} ms`), { name: 'TimeoutError' }),
      );
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.end(payload);
  });
}

/** `GET /v1/endpoints`: the server's own address list. */
export async function checkEndpoints(target: HttpTarget): Promise<EndpointsReport> {
  const url = httpUrl(target, '/v1/endpoints');
  const started = performance.now();
  try {
    const res = await requestJson(target, 'GET', '/v1/endpoints');
    const ms = roundMs(performance.now() - started);
    if (res.status !== 200) return { status: 'fail', ms, url, error: `HTTP ${String(res.status)}` };
    const endpoints = parseServerEndpoints(res.body, url);
    const empty = endpoints.tcp.length + endpoints.tls.length + endpoints.ws.length === 0;
    return empty
      ? { status: 'warn', ms, url, endpoints, note: 'the server lists no endpoint' }
      : { status: 'ok', ms, url, endpoints };
  } catch (err) {
    return { status: 'fail', ms: roundMs(performance.now() - started), url, error: describe(err) };
  }
}
