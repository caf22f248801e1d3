/**
 * A self-signed loopback certificate for the tests that serve `wss://` (the relay CLI, `cse-edge`
 * against a TLS relay). Made with the openssl command; a missing openssl fails with the install hint.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Writes `key.pem` and `cert.pem` (P-256, CN and subjectAltName 127.0.0.1, one day) into `dir`. */
export function selfSignedCert(dir: string): { key: string; cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
  } catch (e) {
    throw new Error('this test makes a certificate with the openssl command: install it (Debian: apt-get install openssl)', { cause: e });
  }
  return { key, cert };
}
