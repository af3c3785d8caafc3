import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { EXIT, action, configFor, globalOptions } from '../cli-common.ts';
import { loadConfig } from '../config.ts';
import { ApplianceError } from '../errors.ts';
import { consoleActor, createBackup, listBackupRecords, readKeyFile, restoreBackup, verifyBackup, type BackupKeySource, type BackupProgress } from '../../security/index.ts';

interface KeyOptions {
  passphraseFile?: string;
  passphraseStdin?: boolean;
  keyFile?: string;
}

/** Passphrases shorter than this are refused when a backup is made (it leaves the room). */
const MIN_PASSPHRASE = 12;

/** The key from exactly one source; never from the command line (ps and shell history keep it). */
async function keyFrom(opts: KeyOptions, creating: boolean): Promise<BackupKeySource> {
  const given = [opts.passphraseFile, opts.passphraseStdin, opts.keyFile].filter(Boolean).length;
  if (given !== 1) throw new ApplianceError('BACKUP_KEY_SOURCE', '请用且只用一种方式提供密钥：--passphrase-file、--passphrase-stdin 或 --key-file。', 'give exactly one of --passphrase-file, --passphrase-stdin, --key-file', { status: 400 });
  if (opts.keyFile) return { keyFile: await readKeyFile(opts.keyFile) };
  let text: string;
  if (opts.passphraseStdin) {
    if (process.stdin.isTTY) process.stderr.write('请输入备份口令后按 Ctrl-D：\n');
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
  if (!passphrase) throw new ApplianceError('BACKUP_KEY_SOURCE', '备份口令为空。', 'empty passphrase');
  if (creating && [...passphrase].length < MIN_PASSPHRASE) throw new ApplianceError('BACKUP_WEAK_PASSPHRASE', `备份口令至少 ${MIN_PASSPHRASE} 个字符（备份会离开机房，须经得起离线猜测）。`, `passphrase shorter than ${MIN_PASSPHRASE}`);
  return { passphrase };
}

const keyOptions = (c: Command) =>
  c
    .option('--passphrase-file <file>', '从文件读取备份口令（首行）passphrase from a file')
    .option('--passphrase-stdin', '从标准输入读取备份口令 passphrase from stdin')
    .option('--key-file <file>', '32 字节密钥文件（如 openssl rand -hex 32 生成）a 32-byte key file');

/** A cli-progress bar with MB/s on a terminal; a line every few seconds otherwise (logs, pipes). */
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
  let last = 0;
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
  const backup = program.command('backup').description('加密备份与恢复 encrypted backup, verify and restore');

  keyOptions(
    backup
      .command('create')
      .description('创建加密备份（config/ items/ audit/ jobs/）；--incremental-from 只含此后变化的条目\ncreate an encrypted backup; incremental with --incremental-from')
      .requiredOption('--out <file>', '备份文件（写到移动介质；不覆盖已有文件）output file')
      .option('--incremental-from <id|file>', '以此备份为基础做增量备份 parent backup id or file'),
  ).action(
    action(async (opts: KeyOptions & { out: string; incrementalFrom?: string }, cmd: Command) => {
      const cfg = configFor(cmd);
      const json = Boolean(globalOptions(cmd).json);
      const key = await keyFrom(opts, true);
      const bar = progress('备份', json);
      let r;
      try {
        r = await createBackup(cfg, { out: opts.out, key, incrementalFrom: opts.incrementalFrom, onProgress: bar.cb, actor: consoleActor() });
      } finally {
        bar.stop();
      }
      const mbps = r.bytes / 1e6 / Math.max(0.001, r.ms / 1000);
      if (json) process.stdout.write(`${JSON.stringify({ ok: true, ...r, mbps })}\n`);
      else {
        process.stdout.write(`备份完成：${r.backupId}（${r.kind === 'full' ? '完整' : `增量，基于 ${r.parentId}`}）→ ${r.out}\n  ${r.included}/${r.items} 个条目，${r.files} 个文件，${(r.bytes / 1e6).toFixed(1)} MB，${mbps.toFixed(1)} MB/s\n`);
        if (r.damaged.length) process.stderr.write(`警告：${r.damaged.length} 个条目与其自身清单不符，已按原样备份：${r.damaged.slice(0, 10).join('、')}。请运行 archive verify。\n`);
      }
      return EXIT.ok;
    }),
  );

  keyOptions(backup.command('verify <files...>').description('校验备份：认证每一块、核对清单；仅当可以恢复时退出码为 0\nverify every chunk and the manifest; exit 0 only if a restore would succeed')).action(
    action(async (files: string[], opts: KeyOptions, cmd: Command) => {
      const json = Boolean(globalOptions(cmd).json);
      const key = await keyFrom(opts, false);
      const bar = progress('校验', json);
      let r;
      try {
        r = await verifyBackup(files, key, bar.cb);
      } finally {
        bar.stop();
      }
      if (json) process.stdout.write(`${JSON.stringify({ ok: true, chain: r.chain, backups: r.backups.map(({ info: _i, ...b }) => b) })}\n`);
      else {
        for (const b of r.backups) {
          process.stdout.write(`备份完好：${b.file}\n  ${b.backupId}（${b.kind === 'full' ? '完整' : `增量，基于 ${b.parentId}`}），${b.included}/${b.items} 个条目，${b.files} 个文件，${(b.bytes / 1e6).toFixed(1)} MB\n`);
          if (b.damaged.length) process.stderr.write(`  警告：${b.damaged.length} 个条目在备份时即与其清单不符：${b.damaged.slice(0, 10).join('、')}\n`);
        }
        if (!r.chain && r.backups.some((b) => b.kind === 'incremental')) process.stdout.write('注意：增量备份须与其完整备份及之前的增量一起恢复。\n');
      }
      return EXIT.ok;
    }),
  );

  keyOptions(
    backup
      .command('restore <files...>')
      .description('恢复到空的数据目录（须用 --data-dir 指定），可带增量备份；随后重建检索索引\nrestore a full backup (+ incrementals) into an empty --data-dir, then reindex')
      .option('--no-reindex', '不重建检索索引 skip the reindex'),
  ).action(
    action(async (files: string[], opts: KeyOptions & { reindex: boolean }, cmd: Command) => {
      const g = globalOptions(cmd);
      if (!g.dataDir) throw new ApplianceError('USAGE', '恢复须用 --data-dir 明确指定目标数据目录（须为空目录）。', 'restore needs an explicit --data-dir');
      const cfg = loadConfig({ file: g.config, overrides: { dataDir: g.dataDir } });
      const key = await keyFrom(opts, false);
      const bar = progress('恢复', Boolean(g.json));
      let r;
      try {
        r = await restoreBackup(files, { dataDir: cfg.dataDir, key, cfg, reindex: opts.reindex, onProgress: bar.cb, actor: consoleActor() });
      } finally {
        bar.stop();
      }
      if (g.json) process.stdout.write(`${JSON.stringify({ ok: true, ...r })}\n`);
      else process.stdout.write(`恢复完成：${r.dataDir}\n  ${r.backups.map((b) => b.backupId).join(' → ')}，${r.items} 个条目${r.indexed ? `，已重建索引（${r.indexed.items} 条目，${r.indexed.pages} 页）` : ''}\n  建议接着运行：archive --data-dir ${r.dataDir} verify\n`);
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
          for (const r of recs) process.stdout.write(`${JSON.stringify({ backupId: r.backupId, parentId: r.parentId, kind: r.kind, created: r.created, file: r.file, outBytes: r.outBytes, items: Object.keys(r.items).length, included: r.included })}\n`);
        } else if (!recs.length) process.stdout.write('本机尚无备份记录。\n');
        else for (const r of recs) process.stdout.write(`${r.backupId}  ${r.kind === 'full' ? '完整' : `增量←${r.parentId}`}  ${r.created}  ${r.included}/${Object.keys(r.items).length} 条目  ${(r.outBytes / 1e6).toFixed(1)} MB  ${r.file}\n`);
      }),
    );
}
