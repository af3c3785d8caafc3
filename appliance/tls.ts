import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Config, dataPath, ApplianceError, writeFileAtomic } from '../core/index.ts';

const run = promisify(execFile);

/**
 * HTTPS for the appliance: outside loopback it speaks only TLS.
 *
 * With `tls.cert` and `tls.key` set, the operator's certificate is served. Otherwise the appliance
 * is its own small CA: at first start it makes a CA key and certificate and a server certificate
 * for the listen address (and `tls.names`), in data/config/tls/ (folder 0700, keys 0600; the CA
 * goes with config/ into backups, so a restored appliance keeps the trust staff gave it). Staff
 * trust the CA once (README: 信任本机证书), downloadable from /ca.crt.
 *
 * Keys are made with node's crypto (EC P-256). Node has no API to sign an X.509 certificate, so
 * the certificates are signed by the `openssl` command, which every Debian system carries (and
 * provision.sh/the bundle name); no new npm dependency, nothing parsed by hand.
 */

export interface TlsMaterial {
  cert: string;
  key: string;
  /** The appliance CA's certificate (PEM), when the certificate is the appliance's own. */
  ca?: string;
  source: 'operator' | 'appliance-ca';
}

/** Addresses that never leave the machine: the console and tests may use plain HTTP there. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

export function tlsDir(dataDir: string): string {
  return dataPath(dataDir, 'config', 'tls');
}

/** The file staff install to trust this appliance (absent until a first start outside loopback). */
export function applianceCaPath(dataDir: string): string {
  return join(tlsDir(dataDir), 'ca.crt');
}

const exists = (p: string) =>
  readFile(p)
    .then(() => true)
    .catch(() => false);

function newKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 30_000 });
  } catch (e) {
    throw new ApplianceError('TLS_ISSUE_FAILED', `无法签发本机 HTTPS 证书（openssl）：${(e as Error).message}`, `openssl failed: ${(e as Error).message}`, { cause: e });
  }
}

/** The names the server certificate must carry: the listen address, extra names from config, this host's name. */
export function certificateNames(host: string, extra: string[]): string[] {
  const names = new Set<string>();
  const h = host.replace(/^\[|\]$/g, '');
  if (h && h !== '0.0.0.0' && h !== '::') names.add(h);
  for (const n of extra) names.add(n);
  names.add(hostname());
  names.add('localhost');
  names.add('127.0.0.1');
  return [...names];
}

function coversAll(cert: X509Certificate, names: string[]): boolean {
  const san = cert.subjectAltName ?? '';
  const have = new Set(san.split(/,\s*/).map((s) => s.replace(/^(DNS|IP Address):/, '').toLowerCase()));
  return names.every((n) => have.has(n.toLowerCase()));
}

async function issueCa(dir: string): Promise<void> {
  const key = newKeyPem();
  await writeFileAtomic(join(dir, 'ca.key'), key, 0o600);
  const work = await mkdtemp(join(dir, '.issue-'));
  try {
    const subject = `/O=Archive Appliance/CN=Archive Appliance CA ${randomBytes(4).toString('hex')}`;
    await openssl(
      [
        'req',
        '-x509',
        '-new',
        '-key',
        join(dir, 'ca.key'),
        '-sha256',
        '-days',
        '3650',
        '-subj',
        subject,
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-addext',
        'subjectKeyIdentifier=hash',
        '-out',
        join(work, 'ca.crt'),
      ],
      work,
    );
    await writeFileAtomic(join(dir, 'ca.crt'), await readFile(join(work, 'ca.crt')), 0o600);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function issueServer(dir: string, names: string[]): Promise<void> {
  const key = newKeyPem();
  const work = await mkdtemp(join(dir, '.issue-'));
  try {
    await writeFile(join(work, 'server.key'), key, { mode: 0o600 });
    const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    await writeFile(
      join(work, 'ext.cnf'),
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n`,
    );
    await openssl(['req', '-new', '-key', join(work, 'server.key'), '-subj', `/O=Archive Appliance/CN=${names[0]}`, '-out', join(work, 'server.csr')], work);
    // 397 days: what browsers accept for a server certificate; a restart after that issues a new one.
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        join(work, 'server.csr'),
        '-CA',
        join(dir, 'ca.crt'),
        '-CAkey',
        join(dir, 'ca.key'),
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-days',
        '397',
        '-sha256',
        '-extfile',
        join(work, 'ext.cnf'),
        '-out',
        join(work, 'server.crt'),
      ],
      work,
    );
    await writeFileAtomic(join(dir, 'server.key'), key, 0o600);
    await writeFileAtomic(join(dir, 'server.crt'), await readFile(join(work, 'server.crt')), 0o600);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The certificate and key to serve on `host`: the operator's, or the appliance's own (issued now
 * if missing, expiring within 30 days, or not naming the address).
 */
export async function loadOrIssueTls(cfg: Pick<Config, 'dataDir' | 'tls'>, host: string): Promise<TlsMaterial> {
  if (cfg.tls.cert && cfg.tls.key) {
    let cert: string;
    let key: string;
    try {
      [cert, key] = await Promise.all([readFile(cfg.tls.cert, 'utf8'), readFile(cfg.tls.key, 'utf8')]);
    } catch (e) {
      throw new ApplianceError('TLS_FILES_UNREADABLE', `无法读取配置的 HTTPS 证书或私钥（tls.cert / tls.key）：${(e as Error).message}`, `tls.cert/tls.key unreadable: ${(e as Error).message}`, {
        cause: e,
      });
    }
    let ok = false;
    try {
      ok = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
    } catch (e) {
      throw new ApplianceError('TLS_FILES_INVALID', `配置的 HTTPS 证书或私钥无法解析（须为 PEM）：${(e as Error).message}`, `tls.cert/tls.key not PEM: ${(e as Error).message}`, { cause: e });
    }
    if (!ok) throw new ApplianceError('TLS_FILES_INVALID', '配置的 HTTPS 证书与私钥不匹配（tls.cert / tls.key）。', 'tls.cert does not match tls.key');
    return { cert, key, source: 'operator' };
  }
  const dir = tlsDir(cfg.dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  if (!(await exists(join(dir, 'ca.key'))) || !(await exists(join(dir, 'ca.crt')))) await issueCa(dir);
  const names = certificateNames(host, cfg.tls.names);
  const current = await readFile(join(dir, 'server.crt'), 'utf8').catch(() => undefined);
  const fresh = (() => {
    if (!current) return false;
    try {
      const c = new X509Certificate(current);
      return Date.parse(c.validTo) - Date.now() > 30 * 86_400_000 && coversAll(c, names) && c.verify(new X509Certificate(readFileSync(join(dir, 'ca.crt'), 'utf8')).publicKey);
    } catch {
      return false;
    }
  })();
  if (!fresh || !(await exists(join(dir, 'server.key')))) await issueServer(dir, names);
  const [cert, key, ca] = await Promise.all([readFile(join(dir, 'server.crt'), 'utf8'), readFile(join(dir, 'server.key'), 'utf8'), readFile(join(dir, 'ca.crt'), 'utf8')]);
  return { cert: `${cert.trim()}\n${ca.trim()}\n`, key, ca, source: 'appliance-ca' };
}
