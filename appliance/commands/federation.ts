import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { action, configFor, EXIT, globalOptions } from '../cli-common.ts';
import { consoleServices } from '../console-services.ts';
import { ApplianceError } from '../../core/index.ts';
import { checkInvitationFile, invite, join, listPeers, parseRelation, removePeer, RELATION_ZH } from '../../federation/index.ts';
import { openSecurity } from '../../security/index.ts';
import { consoleAudited } from './console-audit.ts';

async function writeNew(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { flag: 'wx', mode: 0o644 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new ApplianceError('FILE_EXISTS', `文件已存在，未覆盖：${path}`, `file exists: ${path}`);
    throw e;
  }
}

export function registerFederation(program: Command): void {
  const fed = program.command('federation').description('联合检索：单位之间用移动介质上的签名邀请互相加入\njoin offices for federated search with signed invitations on removable media');

  fed
    .command('invite')
    .description('签发邀请文件（带到对方单位执行 join）write a signed invitation for another office')
    .requiredOption('--out <file>', '邀请文件（写到移动介质上）invitation file to write')
    .requiredOption('--invitee <relation>', '对方是本单位的：上级 | 下级 | 平级 what the invitee is to this office')
    .action(
      action(async (opts: { out: string; invitee: string }, cmd: Command) => {
        const cfg = configFor(cmd);
        const relation = parseRelation(opts.invitee);
        const sec = await openSecurity(cfg);
        const r = await consoleAudited(sec.audit, 'federation.invite', opts.out, async () => {
          const made = await invite(cfg, relation);
          await writeNew(opts.out, made.file);
          return { result: made, details: { invitee: relation, fingerprint: made.fingerprint } };
        });
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true, file: opts.out, invitee: relation, fingerprint: r.fingerprint })}\n`);
        else
          process.stdout.write(
            `已签发邀请：${opts.out}（对方为本单位的${RELATION_ZH[relation]}，30 天内有效，仅可使用一次）\n本单位证书指纹：${r.fingerprint}\n请通过电话与对方核对该指纹；对方执行 join 后会生成回执文件，带回本机执行 archive federation join 回执文件。\n`,
          );
      }),
    );

  fed
    .command('join <file>')
    .description('加入：读入对方的邀请文件（写出回执）或回执文件 accept an invitation (writes a reply) or a reply')
    .option('--out <file>', '回执文件（读入邀请时必填）reply file to write when accepting an invitation')
    .action(
      action(async (file: string, opts: { out?: string }, cmd: Command) => {
        const cfg = configFor(cmd);
        const raw = await readFile(file).catch((e) => {
          throw new ApplianceError('FILE_UNREADABLE', `无法读取文件：${file}（${(e as NodeJS.ErrnoException).code ?? e}）`, `cannot read ${file}`);
        });
        const sec = await openSecurity(cfg);
        const r = await consoleAudited(sec.audit, 'federation.join', file, async () => {
          // Checked before anything starts or changes: a refused file costs nothing and leaves nothing.
          const kind = checkInvitationFile(raw);
          if (kind === 'invitation' && !opts.out) throw new ApplianceError('USAGE', '读入邀请文件时须用 --out 指定回执文件。', '--out is required when accepting an invitation');
          const services = await consoleServices(cfg);
          try {
            const joined = await join(cfg, services.conn, raw);
            if (joined.reply) await writeNew(opts.out!, joined.reply);
            return { result: joined, details: { office: joined.peer.code, name: joined.peer.name, relation: joined.peer.relation, fingerprint: joined.peer.fingerprint } };
          } finally {
            await services.release();
          }
        });
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true, peer: r.peer, reply: r.reply ? opts.out : undefined, fingerprint: r.ownFingerprint })}\n`);
        else {
          process.stdout.write(`已加入单位 ${r.peer.code} ${r.peer.name}（对方为本单位的${RELATION_ZH[r.peer.relation]}，地址 ${r.peer.addr}）\n对方证书指纹：${r.peer.fingerprint}\n`);
          if (r.reply) process.stdout.write(`回执已写入：${opts.out}，请带回对方单位执行 archive federation join ${opts.out}\n本单位证书指纹：${r.ownFingerprint}\n`);
        }
        return EXIT.ok;
      }),
    );

  fed
    .command('list')
    .description('列出已加入的单位和未答复的邀请 list joined offices and pending invitations')
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const cfg = configFor(cmd);
        const r = await listPeers(cfg.dataDir);
        if (globalOptions(cmd).json) {
          process.stdout.write(`${JSON.stringify({ ok: true, office: cfg.office, ...r })}\n`);
          return;
        }
        if (!r.peers.length) process.stdout.write('（尚未加入任何单位）\n');
        for (const p of r.peers) process.stdout.write(`${p.code.padEnd(12)} ${RELATION_ZH[p.relation]}  ${p.addr.padEnd(22)} ${p.name}  加入于 ${p.joinedAt}\n`);
        for (const i of r.invitations) process.stdout.write(`（未答复的邀请：对方为${RELATION_ZH[i.invitee]}，签发于 ${i.createdAt}，${i.expiresAt} 过期）\n`);
      }),
    );

  fed
    .command('remove <office>')
    .description('移除单位：立即吊销其检索密钥 remove an office; its key is revoked at once')
    .action(
      action(async (code: string, _o: unknown, cmd: Command) => {
        const cfg = configFor(cmd);
        const sec = await openSecurity(cfg);
        const services = await consoleServices(cfg);
        try {
          const p = await consoleAudited(sec.audit, 'federation.remove', code, async () => {
            const removed = await removePeer(cfg.dataDir, services.conn, code);
            return { result: removed, details: { office: removed.code, name: removed.name, fingerprint: removed.fingerprint } };
          });
          if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true, removed: p })}\n`);
          else process.stdout.write(`已移除单位 ${p.code} ${p.name}，其检索密钥已吊销。\n`);
        } finally {
          await services.release();
        }
      }),
    );
}
