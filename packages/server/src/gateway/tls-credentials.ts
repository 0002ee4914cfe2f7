import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate chain and its private key, PEM. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  /** The PEM file of the self-signed development certificate, when that is what is used. */
  devCertificate: string | undefined;
  /** True when this call made the development certificate (the caller should say so). */
  created: boolean;
}

export class TlsSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TlsSetupError';
  }
}

/**
 * The certificate and key for the TLS gateway: the configured files, or else a self-signed
 * development certificate kept in `<dataDir>/tls/` (made on first use, reused afterwards).
 */
export async function loadTlsCredentials(options: {
  certFile: string;
  keyFile: string;
  dataDir: string;
}): Promise<TlsCredentials> {
  const { certFile, keyFile } = options;
  if (certFile !== '' || keyFile !== '') {
    if (certFile === '' || keyFile === '') {
      throw new TlsSetupError('set both tlsCert and tlsKey (PARLEY_TLS_CERT and PARLEY_TLS_KEY), or neither');
    }
    const [cert, key] = await Promise.all([readPem(certFile, 'certificate'), readPem(keyFile, 'key')]);
    checkPair(cert, key, `${resolve(certFile)} and ${resolve(keyFile)}`);
    return { cert, key, devCertificate: undefined, created: false };
  }
  const dev = await ensureDevCertificate(options.dataDir);
  return { cert: dev.cert, key: dev.key, devCertificate: dev.certFile, created: dev.created };
}

/** Files of the development certificate in `dataDir`. */
export function devCertificatePaths(dataDir: string): { dir: string; certFile: string; keyFile: string } {
  const dir = resolve(dataDir, 'tls');
  return { dir, certFile: join(dir, 'dev-cert.pem'), keyFile: join(dir, 'dev-key.pem') };
}

/**
 * Returns the development certificate in `<dataDir>/tls/`, making it with the `openssl` CLI
 * when it is missing, unusable (key mismatch, unreadable) or expires within a day.
 * Node has no API to issue an X.509 certificate; the openssl CLI ships with every system a
 * server runs on, and a dependency for development-only certificates is not worth carrying.
 * The key file is mode 0600 in a 0700 directory.
 */
export async function ensureDevCertificate(
  dataDir: string,
): Promise<{ certFile: string; keyFile: string; cert: Buffer; key: Buffer; created: boolean }> {
  const { dir, certFile, keyFile } = devCertificatePaths(dataDir);
  const existing = await readUsable(certFile, keyFile);
  if (existing) return { certFile, keyFile, ...existing, created: false };

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const suffix = `.tmp-${String(process.pid)}-${String(Date.now())}`;
  const tmpCert = certFile + suffix;
  const tmpKey = keyFile + suffix;
  try {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '825',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        '-keyout',
        tmpKey,
        '-out',
        tmpCert,
      ],
      { timeout: 30_000 },
    );
    await chmod(tmpKey, 0o600);
    await rename(tmpKey, keyFile);
    await rename(tmpCert, certFile);
  } catch (err) {
    await Promise.all([rm(tmpCert, { force: true }), rm(tmpKey, { force: true })]);
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new TlsSetupError(
      `${missing ? 'the openssl command was not found, so' : 'openssl failed:'} no self-signed development certificate ` +
        'could be made for the TLS gateway; configure one with tlsCert and tlsKey in the config file ' +
        '(or PARLEY_TLS_CERT and PARLEY_TLS_KEY), or turn the gateway off with --no-tls',
      { cause: err },
    );
  }
  const made = await readUsable(certFile, keyFile);
  if (!made) throw new TlsSetupError(`the development certificate made at ${certFile} is not usable`);
  return { certFile, keyFile, ...made, created: true };
}

async function readUsable(certFile: string, keyFile: string): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    checkPair(cert, key, certFile);
    if (Date.parse(new X509Certificate(cert).validTo) < Date.now() + 86_400_000) return undefined;
  } catch {
    return undefined;
  }
  return { cert, key };
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new TlsSetupError(`cannot read the TLS ${what} file ${resolve(file)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function checkPair(cert: Buffer, key: Buffer, where: string): void {
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsSetupError(
      `the TLS certificate and key in ${where} are not a usable pair: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}
