import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApplianceError, dataPath, writeFileAtomic } from '../core/index.ts';

const run = promisify(execFile);

/**
 * This office's federation identity: an EC P-256 key pair and a self-signed certificate in
 * data/config/federation/ (folder 0700, files 0600). The certificate is what a peer pins (by its
 * SHA-256 fingerprint, read from the signed invitation); the key signs invitations and proves the
 * office in mutual TLS. It is not the appliance's web certificate: staff's browsers never see it,
 * and a new web certificate does not unjoin the federation.
 *
 * As in appliance/tls.ts, the key is made with node's crypto and the certificate signed by the
 * `openssl` command (node cannot sign X.509).
 */
export interface FederationIdentity {
  cert: string;
  key: string;
  /** SHA-256 of the certificate's DER, as colon-separated upper-case hex (node's fingerprint256). */
  fingerprint: string;
}

export function federationDir(dataDir: string): string {
  return dataPath(dataDir, 'config', 'federation');
}

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

async function issue(dir: string, officeCode: string, host: string): Promise<void> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const work = await mkdtemp(join(dir, '.issue-'));
  try {
    await writeFile(join(work, 'key.pem'), key, { mode: 0o600 });
    const h = host.replace(/^\[|\]$/g, '');
    const san = [h && h !== '0.0.0.0' && h !== '::' ? (isIP(h) ? `IP:${h}` : `DNS:${h}`) : undefined, 'DNS:archive-federation'].filter(Boolean).join(',');
    try {
      await run(
        'openssl',
        [
          'req',
          '-x509',
          '-new',
          '-key',
          join(work, 'key.pem'),
          '-sha256',
          '-days',
          '3650',
          '-set_serial',
          `0x${randomBytes(16).toString('hex')}`,
          '-subj',
          `/O=Archive Appliance Federation/CN=${officeCode}`,
          '-addext',
          'basicConstraints=critical,CA:FALSE',
          '-addext',
          'keyUsage=critical,digitalSignature',
          '-addext',
          'extendedKeyUsage=serverAuth,clientAuth',
          '-addext',
          `subjectAltName=${san}`,
          '-out',
          join(work, 'cert.pem'),
        ],
        { cwd: work, timeout: 30_000 },
      );
    } catch (e) {
      throw new ApplianceError('FEDERATION_CERT_FAILED', `无法生成联合检索证书（openssl）：${(e as Error).message}`, `openssl failed: ${(e as Error).message}`, { cause: e, status: 500 });
    }
    await writeFileAtomic(join(dir, 'federation.key'), key, 0o600);
    await writeFileAtomic(join(dir, 'federation.crt'), await readFile(join(work, 'cert.pem')), 0o600);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The office's federation key and certificate, made at first use (10 years; peers pin it). */
export async function loadOrCreateIdentity(dataDir: string, officeCode: string, host = ''): Promise<FederationIdentity> {
  const dir = federationDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const read = async () => Promise.all([readFile(join(dir, 'federation.crt'), 'utf8'), readFile(join(dir, 'federation.key'), 'utf8')]).catch(() => undefined);
  let pair = await read();
  if (!pair) {
    await issue(dir, officeCode, host);
    pair = await read();
  }
  if (!pair) throw new ApplianceError('FEDERATION_CERT_FAILED', '联合检索证书无法读取。', 'federation certificate unreadable', { status: 500 });
  const [cert, key] = pair;
  const x = new X509Certificate(cert);
  if (!x.checkPrivateKey(createPrivateKey(key))) {
    throw new ApplianceError('FEDERATION_CERT_INVALID', `联合检索证书与私钥不匹配：${dir}`, `federation certificate does not match its key in ${dir}`, { status: 500 });
  }
  return { cert, key, fingerprint: x.fingerprint256 };
}
