import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/index.ts';
import type { IdentityStore } from './identity-store.ts';

/**
 * First start without a default password: while some administrator role (系统管理员,
 * 安全保密管理员, 安全审计员) has no account, the appliance makes a one-time token, prints it
 * on its console and keeps only its SHA-256 in data/config/setup-token.json. Each of the first
 * administrators is created once with it; when all three roles are filled the file is removed.
 */
const FILE = 'setup-token.json';
/** Where the token itself goes when no terminal shows it (a service under systemd): 0600, README names it. */
export const SETUP_TOKEN_TEXT_FILE = 'setup-token.txt';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export class SetupToken {
  private readonly path: string;
  readonly textPath: string;
  constructor(
    configDir: string,
    private readonly identity: IdentityStore,
  ) {
    this.path = join(configDir, FILE);
    this.textPath = join(configDir, SETUP_TOKEN_TEXT_FILE);
  }

  /**
   * The token for an operator without a terminal: written to data/config/setup-token.txt (0600,
   * atomically), never to a log or the journal; removed when setup is done or a new token is issued.
   */
  async writeTextFile(token: string, url: string): Promise<string> {
    await writeFileAtomic(this.textPath, setupTokenNotice(token, url).replace(/^\n+/, ''), 0o600);
    return this.textPath;
  }

  /** A fresh token if setup is still needed (printed by the caller), else nothing; replaces any older token. */
  async issue(): Promise<string | undefined> {
    await rm(this.textPath, { force: true });
    if (!(await this.identity.vacantAdminRoles()).length) {
      await rm(this.path, { force: true });
      return undefined;
    }
    const token = randomBytes(24).toString('base64url');
    await writeFileAtomic(this.path, `${JSON.stringify({ sha256: digest(token).toString('hex'), createdAt: new Date().toISOString() })}\n`);
    return token;
  }

  async active(): Promise<boolean> {
    return (await this.stored()) !== undefined && (await this.identity.vacantAdminRoles()).length > 0;
  }

  async check(token: string): Promise<boolean> {
    const stored = await this.stored();
    if (!stored || typeof token !== 'string' || !token) return false;
    return timingSafeEqual(stored, digest(token));
  }

  /** Called after each setup account: the token dies once every administrator role is filled. */
  async retireIfDone(): Promise<void> {
    if (!(await this.identity.vacantAdminRoles()).length) {
      await rm(this.path, { force: true });
      await rm(this.textPath, { force: true });
    }
  }

  private async stored(): Promise<Buffer | undefined> {
    try {
      const j = JSON.parse(await readFile(this.path, 'utf8')) as { sha256?: string };
      return j.sha256 && /^[0-9a-f]{64}$/.test(j.sha256) ? Buffer.from(j.sha256, 'hex') : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * The console notice for a fresh token: a framed block printed once the appliance answers, so it
 * is not lost among start-up lines. It goes to the console only, never into the JSON log.
 */
export function setupTokenNotice(token: string, url: string): string {
  const rule = '═'.repeat(64);
  return [
    '',
    rule,
    `  初始设置令牌（仅显示一次）：${token}`,
    '',
    `  用途：在浏览器打开 ${url} ，在“初始设置：建立三员账户”表单中`,
    '  填入此令牌，依次建立系统管理员、安全保密管理员、安全审计员三个账户。',
    '  三个账户都建好后令牌自动失效（此文件随之删除）。令牌不写入日志，请勿外传；',
    '  如遗失，重新启动 archive serve 会生成新令牌（旧令牌随即作废）。',
    rule,
    '',
    '',
  ].join('\n');
}
