import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { EXIT, action, configFor, globalOptions } from '../cli-common.ts';
import { loadConfig, ApplianceError } from '../../core/index.ts';
import { reindexDataDir } from '../console-services.ts';
import { consoleActor } from '../../security/index.ts';
import {
  addRecipient,
  assertPassphrase,
  generateIdentity,
  listRecipients,
  loadOrCreateSigningKey,
  localSignerKey,
  openIdentity,
  signerRaw,
  createBackup,
  type BackupProgress,
  listBackupRecords,
  restoreBackup,
  verifyBackup,
  verifyBackupStructure,
  type BackupOpenKey,
} from '../../custody/index.ts';

interface PassOptions {
  passphraseFile?: string;
  passphraseStdin?: boolean;
}

interface OpenOptions extends PassOptions {
  identity?: string;
  signer?: string[];
}

/** The identity's passphrase from exactly one source; never from the command line (ps and shell history keep it). */
async function passphraseFrom(opts: PassOptions): Promise<string> {
  const given = [opts.passphraseFile, opts.passphraseStdin].filter(Boolean).length;
  if (given !== 1)
    throw new ApplianceError('BACKUP_KEY_SOURCE', '请用且只用一种方式提供私钥保护口令：--passphrase-file 或 --passphrase-stdin。', 'give exactly one of --passphrase-file, --passphrase-stdin', {
      status: 400,
    });
  let text: string;
  if (opts.passphraseStdin) {
    if (process.stdin.isTTY) process.stderr.write('请输入私钥保护口令后按 Ctrl-D：\n');
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    try {
      text = await readFile(opts.passphraseFile!, 'utf8');
    } catch (e) {
      throw new ApplianceError('BACKUP_KEY_SOURCE', `无法读取口令文件：${opts.passphraseFile}`, `cannot read passphrase file: ${(e as Error).message}`);
    }
  }
  const passphrase = text.replace(/\r?\n$/, '');
  if (!passphrase) throw new ApplianceError('BACKUP_KEY_SOURCE', '口令为空。', 'empty passphrase');
  return passphrase;
}

/** A public key given as its text or as a file holding it (KEYFILE.pub). */
async function keyText(arg: string): Promise<string> {
  if (arg.startsWith('ARCHBK1-')) return arg.trim();
  try {
    return (await readFile(arg, 'utf8')).trim();
  } catch (e) {
    throw new ApplianceError('BACKUP_BAD_PUBLIC_KEY', `无法读取公钥文件：${arg}（${(e as Error).message}）`, `cannot read public key file ${arg}`, { status: 400 });
  }
}

/**
 * The signers trusted to have made a backup: each --signer, and this appliance's own signing key
 * (from the configured data dir, not from a restore's target). None: refused, never "any".
 */
async function trustedSigners(opts: OpenOptions, dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of opts.signer ?? []) {
    const t = await keyText(s);
    signerRaw(t);
    out.push(t);
  }
  const local = await localSignerKey(dataDir);
  if (local) out.push(local);
  if (!out.length)
    throw new ApplianceError(
      'BACKUP_SIGNER_REQUIRED',
      '不知道该信任哪台设备的备份签名：请用 --signer 给出做备份那台设备的签名公钥（在该设备上 archive backup signer 显示，登记接收公钥时已提示抄存）。',
      'no trusted signer: give --signer',
      { status: 400 },
    );
  return out;
}

async function openKeyFrom(opts: OpenOptions, dataDir: string): Promise<BackupOpenKey> {
  if (!opts.identity) throw new ApplianceError('USAGE', '恢复须用 --identity 给出安全保密管理员的私钥文件（及 --passphrase-file）。', 'restore needs --identity');
  const signers = await trustedSigners(opts, dataDir);
  return { identity: await openIdentity(opts.identity, await passphraseFrom(opts)), trustedSigners: signers };
}

const passOptions = (c: Command) =>
  c.option('--passphrase-file <file>', '从文件读取私钥保护口令（首行）passphrase from a file').option('--passphrase-stdin', '从标准输入读取私钥保护口令 passphrase from stdin');

const collect = (v: string, prev: string[] = []) => [...prev, v];

const openOptions = (c: Command) =>
  passOptions(c)
    .option('--identity <keyfile>', '安全保密管理员的私钥文件（archive backup keygen 生成）recipient private key file')
    .option('--signer <key|file>', '信任的备份签名公钥（可多次；本机的自动信任）trusted signer public key', collect);

/**
 * A cli-progress bar with MB/s on a terminal; otherwise (logs, pipes) a line every few seconds, the
 * first after two: a line printed at the start said 0.0 MB done and, on a short job, was the only one.
 */
function progress(label: string, json: boolean): { cb: (p: BackupProgress) => void; stop(): void } {
  if (json) return { cb: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar({ format: `${label} {bar} {percentage}% | {mb}/{totalMb} MB | {mbps} MB/s`, hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
    let started = false;
    return {
      cb: (p) => {
        const total = p.total ?? p.bytes;
        const payload = { mb: (p.bytes / 1e6).toFixed(1), totalMb: (total / 1e6).toFixed(1), mbps: p.mbps.toFixed(1) };
        if (!started) {
          bar.start(Math.max(1, total), 0, payload);
          started = true;
        }
        bar.update(Math.min(p.bytes, total), payload);
      },
      stop: () => started && bar.stop(),
    };
  }
  let last = Date.now();
  return {
    cb: (p) => {
      if (Date.now() - last < 2000) return;
      last = Date.now();
      process.stderr.write(`${label}：${(p.bytes / 1e6).toFixed(1)}${p.total ? `/${(p.total / 1e6).toFixed(1)}` : ''} MB，${p.mbps.toFixed(1)} MB/s\n`);
    },
    stop: () => undefined,
  };
}

export function registerBackup(program: Command): void {
  const backup = program
    .command('backup')
    .description("加密备份与恢复：系统管理员做备份，只有安全保密管理员的私钥能打开\nencrypted backups only the security officer's key opens: create, verify, restore");

  passOptions(
    backup
      .command('keygen')
      .description('生成备份接收密钥对：私钥文件（口令保护，留在安全保密管理员的移动介质上）与 KEYFILE.pub\nwrite a recipient key pair: KEYFILE (passphrase-protected) and KEYFILE.pub')
      .requiredOption('--out <keyfile>', '私钥文件（不覆盖已有文件）private key file'),
  ).action(
    action(async (opts: PassOptions & { out: string }, cmd: Command) => {
      const passphrase = await passphraseFrom(opts);
      assertPassphrase(passphrase);
      const { identityFile, publicKey } = await generateIdentity(passphrase);
      try {
        await writeFile(opts.out, identityFile, { mode: 0o600, flag: 'wx' });
        await writeFile(`${opts.out}.pub`, `${publicKey}\n`, { mode: 0o644, flag: 'wx' });
      } catch (e) {
        throw new ApplianceError('BACKUP_KEYGEN', `无法写入密钥文件（已存在或不可写）：${(e as Error).message}`, `cannot write key files: ${(e as Error).message}`, { status: 400 });
      }
      if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true, identity: opts.out, publicKeyFile: `${opts.out}.pub`, publicKey })}\n`);
      else
        process.stdout.write(
          `已生成备份接收密钥对：\n  私钥（口令保护，请离线保管）：${opts.out}\n  公钥：${opts.out}.pub\n  ${publicKey}\n下一步（安全保密管理员）：archive backup recipients add ${opts.out}.pub\n`,
        );
      return EXIT.ok;
    }),
  );

  const recipients = backup.command('recipients').description('备份接收公钥（安全保密管理员登记）recipient public keys');
  recipients
    .command('add <pubkey>')
    .description("登记一个接收公钥（公钥文本或 .pub 文件；安全保密管理员的操作，记入审计）\nregister a recipient public key (the security officer's act; audited)")
    .option('--label <text>', '说明，如“异地封存” a label')
    .action(
      action(async (pub: string, opts: { label?: string }, cmd: Command) => {
        const cfg = configFor(cmd);
        const rec = await addRecipient(cfg.dataDir, await keyText(pub), { label: opts.label, actor: { ...consoleActor(), role: '安全保密管理员' } });
        const signer = await loadOrCreateSigningKey(cfg.dataDir);
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true, recipient: rec, signer: signer.publicKey })}\n`);
        else process.stdout.write(`已登记接收公钥：${rec.fingerprint}（${rec.label}）\n请与私钥一同抄存本机备份签名公钥（异机恢复时 --signer 用）：\n  ${signer.publicKey}\n`);
        return EXIT.ok;
      }),
    );
  recipients
    .command('list')
    .description('列出已登记的接收公钥 list registered recipients')
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const cfg = configFor(cmd);
        const list = await listRecipients(cfg.dataDir);
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ recipients: list, signer: (await localSignerKey(cfg.dataDir)) ?? null })}\n`);
        else if (!list.length) process.stdout.write('尚未登记接收公钥：在登记之前不能备份。\n');
        else for (const r of list) process.stdout.write(`${r.fingerprint}  ${r.label}  ${r.addedAt}  ${r.publicKey}\n`);
      }),
    );

  backup
    .command('signer')
    .description("显示本机的备份签名公钥（异机恢复时 --signer 用）show this appliance's signing public key")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const cfg = configFor(cmd);
        const k = await loadOrCreateSigningKey(cfg.dataDir);
        process.stdout.write(globalOptions(cmd).json ? `${JSON.stringify({ signer: k.publicKey })}\n` : `${k.publicKey}\n`);
      }),
    );

  backup
    .command('create')
    .description(
      '创建加密备份（config/ items/ audit/ jobs/），加密给已登记的接收公钥并由本机签名；--incremental-from 只含此后变化的条目\ncreate a backup encrypted to the registered recipients, signed by this appliance',
    )
    .requiredOption('--out <file>', '备份文件（写到移动介质；不覆盖已有文件）output file')
    .option('--incremental-from <id|file>', '以此备份为基础做增量备份 parent backup id or file')
    .action(
      action(async (opts: { out: string; incrementalFrom?: string }, cmd: Command) => {
        const cfg = configFor(cmd);
        const json = Boolean(globalOptions(cmd).json);
        const bar = progress('备份', json);
        let r;
        try {
          r = await createBackup(cfg, { out: opts.out, incrementalFrom: opts.incrementalFrom, onProgress: bar.cb, actor: consoleActor() });
        } finally {
          bar.stop();
        }
        const mbps = r.bytes / 1e6 / Math.max(0.001, r.ms / 1000);
        if (json) process.stdout.write(`${JSON.stringify({ ok: true, ...r, mbps })}\n`);
        else {
          process.stdout.write(
            `备份完成：${r.backupId}（${r.kind === 'full' ? '完整' : `增量，基于 ${r.parentId}`}）→ ${r.out}\n  ${r.included}/${r.items} 个条目，${r.files} 个文件，${(r.bytes / 1e6).toFixed(1)} MB，${mbps.toFixed(1)} MB/s\n  接收方：${r.recipients.join('、')}\n`,
          );
          if (r.damaged.length) process.stderr.write(`警告：${r.damaged.length} 个条目与其自身清单不符，已按原样备份：${r.damaged.slice(0, 10).join('、')}。请运行 archive verify。\n`);
        }
        return EXIT.ok;
      }),
    );

  openOptions(
    backup
      .command('verify <files...>')
      .description(
        '校验备份。带 --identity：解密并认证每一块、核对清单，仅当可以恢复时退出码为 0；不带：只查结构与签名（不需任何秘密）\nwith --identity: full check; without: structure and signature only',
      ),
  ).action(
    action(async (files: string[], opts: OpenOptions, cmd: Command) => {
      const cfg = configFor(cmd);
      const json = Boolean(globalOptions(cmd).json);
      if (!opts.identity) {
        if (opts.passphraseFile || opts.passphraseStdin) throw new ApplianceError('USAGE', '给了口令却没有 --identity 私钥文件。', 'passphrase without --identity');
        const signers = await trustedSigners(opts, cfg.dataDir);
        const bar = progress('校验结构与签名', json);
        let r;
        try {
          r = await verifyBackupStructure(files, signers, bar.cb);
        } finally {
          bar.stop();
        }
        if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else {
          for (const b of r.backups)
            process.stdout.write(`结构与签名完好：${b.file}\n  ${b.backupId}（${b.kind === 'full' ? '完整' : `增量，基于 ${b.parentId}`}），${b.chunks} 块，接收方 ${b.recipients.join('、')}\n`);
          process.stdout.write('注意：未解密，内容未校验（须安全保密管理员用 --identity 私钥做完整校验）。\n');
        }
        return EXIT.ok;
      }
      const key = await openKeyFrom(opts, cfg.dataDir);
      const bar = progress('校验', json);
      let r;
      try {
        r = await verifyBackup(files, key, bar.cb);
      } finally {
        bar.stop();
      }
      if (json) process.stdout.write(`${JSON.stringify({ ok: true, contentChecked: true, chain: r.chain, backups: r.backups.map(({ info: _i, ...b }) => b) })}\n`);
      else {
        for (const b of r.backups) {
          process.stdout.write(
            `备份完好（已解密校验）：${b.file}\n  ${b.backupId}（${b.kind === 'full' ? '完整' : `增量，基于 ${b.parentId}`}），${b.included}/${b.items} 个条目，${b.files} 个文件，${(b.bytes / 1e6).toFixed(1)} MB\n`,
          );
          if (b.damaged.length) process.stderr.write(`  警告：${b.damaged.length} 个条目在备份时即与其清单不符：${b.damaged.slice(0, 10).join('、')}\n`);
        }
        if (!r.chain && r.backups.some((b) => b.kind === 'incremental')) process.stdout.write('注意：增量备份须与其完整备份及之前的增量一起恢复。\n');
      }
      return EXIT.ok;
    }),
  );

  openOptions(
    backup
      .command('restore <files...>')
      .description(
        '恢复到空的数据目录（须用 --data-dir 指定），可带增量备份；须 --identity 私钥；随后重建检索索引\nrestore a full backup (+ incrementals) into an empty --data-dir with --identity, then reindex',
      )
      .option('--no-reindex', '不重建检索索引 skip the reindex'),
  ).action(
    action(async (files: string[], opts: OpenOptions & { reindex: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      if (!g.dataDir) throw new ApplianceError('USAGE', '恢复须用 --data-dir 明确指定目标数据目录（须为空目录）。', 'restore needs an explicit --data-dir');
      const cfg = loadConfig({ file: g.config, overrides: { dataDir: g.dataDir } });
      // This appliance's own signer comes from its configured data dir, not from the empty target.
      const key = await openKeyFrom(opts, loadConfig({ file: g.config }).dataDir);
      const bar = progress('恢复', Boolean(g.json));
      let r;
      try {
        r = await restoreBackup(files, { dataDir: cfg.dataDir, key, cfg, reindex: opts.reindex && reindexDataDir, onProgress: bar.cb, actor: consoleActor() });
      } finally {
        bar.stop();
      }
      if (g.json) process.stdout.write(`${JSON.stringify({ ok: true, ...r })}\n`);
      else
        process.stdout.write(
          `恢复完成：${r.dataDir}\n  ${r.backups.map((b) => b.backupId).join(' → ')}，${r.items} 个条目${r.indexed ? `，已重建索引（${r.indexed.items} 条目，${r.indexed.pages} 页）` : ''}\n  建议接着运行：archive --data-dir ${r.dataDir} verify\n`,
        );
      return EXIT.ok;
    }),
  );

  backup
    .command('list')
    .description('列出本机做过的备份 list backups made on this machine')
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const cfg = configFor(cmd);
        const recs = await listBackupRecords(cfg.dataDir);
        if (globalOptions(cmd).json) {
          for (const r of recs)
            process.stdout.write(
              `${JSON.stringify({ backupId: r.backupId, parentId: r.parentId, kind: r.kind, created: r.created, file: r.file, outBytes: r.outBytes, items: Object.keys(r.items).length, included: r.included })}\n`,
            );
        } else if (!recs.length) process.stdout.write('本机尚无备份记录。\n');
        else
          for (const r of recs)
            process.stdout.write(
              `${r.backupId}  ${r.kind === 'full' ? '完整' : `增量←${r.parentId}`}  ${r.created}  ${r.included}/${Object.keys(r.items).length} 条目  ${(r.outBytes / 1e6).toFixed(1)} MB  ${r.file}\n`,
            );
      }),
    );
}
