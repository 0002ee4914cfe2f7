// A self-signed certificate for tests, made with the openssl CLI (EC P-256, valid one day).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate for `localhost`: its files, and its PEM for a client's `ca`. */
export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** The certificate PEM, for the client's `ca`. */
  cert: string;
}

/**
 * Writes `cert.pem` and `key.pem` into `dir`: CN=localhost, with `subjectAltNames` (openssl
 * syntax; default `DNS:localhost` and `IP:127.0.0.1`).
 */
export function makeCertificate(
  dir: string,
  subjectAltNames: readonly string[] = ['DNS:localhost', 'IP:127.0.0.1'],
): TestCertificate {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
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
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      `subjectAltName=${subjectAltNames.join(',')}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8') };
}
