import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A throwaway PKI for TLS tests; every string is PEM. */
export interface TestCerts {
  /** The CA certificate that signed both leaf certificates (pass as `ca` to trust it). */
  ca: string;
  serverKey: string;
  /** Valid for DNS `localhost` and IPs 127.0.0.1 and ::1. */
  serverCert: string;
  clientKey: string;
  /** CN `storm-test-client`, extended key usage clientAuth. */
  clientCert: string;
  /** The directory holding the same files (ca.crt, server.key, server.crt, client.key, client.crt). */
  dir: string;
}

let cached: Promise<TestCerts> | undefined;

/**
 * Generates (once per process) a CA, a server certificate and a client certificate with the
 * `openssl` CLI. EC P-256 keys keep generation well under a second. The files are deleted at exit.
 */
export function makeCerts(): Promise<TestCerts> {
  cached ??= generate().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

const DAYS = '2';
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function generate(): Promise<TestCerts> {
  const dir = mkdtempSync(join(tmpdir(), 'storm-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string): string => join(dir, name);

  await openssl([
    'req', '-x509', ...KEY_ARGS, '-days', DAYS,
    '-keyout', file('ca.key'), '-out', file('ca.crt'),
    '-subj', '/CN=Storm Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await Promise.all([
    leaf(dir, 'server', '/CN=localhost', [
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      'extendedKeyUsage=serverAuth',
    ]),
    leaf(dir, 'client', '/CN=storm-test-client', ['extendedKeyUsage=clientAuth']),
  ]);

  const [ca, serverKey, serverCert, clientKey, clientCert] = await Promise.all(
    ['ca.crt', 'server.key', 'server.crt', 'client.key', 'client.crt'].map((name) => readFile(file(name), 'utf8')),
  );
  return { ca, serverKey, serverCert, clientKey, clientCert, dir };
}

/** A key + certificate signed by the CA in `dir`. */
async function leaf(dir: string, name: string, subject: string, extensions: string[]): Promise<void> {
  const file = (suffix: string): string => join(dir, `${name}.${suffix}`);
  await writeFile(
    file('ext'),
    ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', ...extensions].join('\n') + '\n',
  );
  await openssl(['req', ...KEY_ARGS, '-keyout', file('key'), '-out', file('csr'), '-subj', subject]);
  await openssl([
    'x509', '-req', '-in', file('csr'), '-days', DAYS,
    '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'),
    '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-extfile', file('ext'), '-out', file('crt'),
  ]);
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { timeout: 30_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed (is the openssl CLI installed?): ${stderr.trim() || String(error)}`, {
      cause: error,
    });
  }
}
