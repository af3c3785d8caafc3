import { readFile } from 'node:fs/promises';
import { ApplianceError } from '../../core/index.ts';
import { consoleActor, type AuditLog } from '../../security/index.ts';

/** Run a console change so it leaves exactly one audit record (actor `console`), success or failure. */
export async function consoleAudited<T>(audit: AuditLog, action: string, target: string, fn: () => Promise<{ result: T; details?: Record<string, unknown> }>): Promise<T> {
  let out: { result: T; details?: Record<string, unknown> };
  try {
    out = await fn();
  } catch (e) {
    await audit.append({ ...consoleActor(), action, target, outcome: 'failure', details: { error: e instanceof ApplianceError ? e.code : 'INTERNAL' } });
    throw e;
  }
  await audit.append({ ...consoleActor(), action, target, outcome: 'success', details: out.details ?? {} });
  return out.result;
}

/** A password from stdin or a file, never from the command line (ps and shell history would keep it). */
export async function readPassword(opts: { passwordStdin?: boolean; passwordFile?: string }): Promise<string> {
  let text: string;
  if (opts.passwordStdin && opts.passwordFile) throw new ApplianceError('USAGE', '--password-stdin 与 --password-file 只能选一个。', 'choose one password source');
  if (opts.passwordStdin) {
    if (process.stdin.isTTY) process.stderr.write('请输入密码后按 Ctrl-D：\n');
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
  } else if (opts.passwordFile) {
    text = await readFile(opts.passwordFile, 'utf8');
  } else {
    throw new ApplianceError('PASSWORD_SOURCE_MISSING', '请用 --password-stdin 或 --password-file 提供密码（不接受命令行明文密码）。', 'password source missing');
  }
  return text.replace(/\r?\n$/, '');
}

export function list(s: string | undefined): string[] | undefined {
  return s === undefined
    ? undefined
    : s
        .split(/[,，]/)
        .map((x) => x.trim())
        .filter(Boolean);
}
