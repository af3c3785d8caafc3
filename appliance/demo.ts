import { randomInt } from 'node:crypto';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, parseHostPort, type Config, ApplianceError, type Logger } from '../core/index.ts';
import { ownClamdSocket } from './clamd-supervisor.ts';
import { startAppliance, type RunningAppliance } from './server.ts';
import { jobProgress, type Job } from '../ingest/index.ts';
import { argon2Hasher, consoleActor, openSecurity, type Role } from '../security/index.ts';

const REPO = resolve(import.meta.dirname, '..');
/** The developer samples beside the repository (../shared/samples): 8 items, 16 pages, with ground truth. */
export const DEFAULT_SAMPLES_DIR = resolve(REPO, '../shared/samples');
/** ClamAV's test signatures (EICAR and its test file): they detect nothing real. */
export const DEMO_SIGNATURES_DIR = resolve(REPO, 'test/fixtures/clamav');

/** The two posts of the demo and which samples each holds (by the department of the sample). */
export const DEMO_POSTS = [
  { code: 'BGS', name: '办公室', departments: ['办公室', '档案室', '信息中心', '机构编制科'] },
  { code: 'DZZW', name: '电子政务中心', departments: ['电子政务中心', '事业单位登记管理局'] },
] as const;

export interface DemoAccount {
  username: string;
  role: Role;
  roleName: string;
  posts: string[];
  password: string;
}

const ACCOUNTS: Array<Omit<DemoAccount, 'password'>> = [
  { username: 'sysadmin', role: 'sysadmin', roleName: '系统管理员', posts: [] },
  { username: 'secadmin', role: 'secadmin', roleName: '安全保密管理员', posts: [] },
  { username: 'auditor', role: 'auditor', roleName: '安全审计员', posts: [] },
  { username: 'zhang', role: 'staff', roleName: '查阅人员', posts: ['BGS'] },
  { username: 'wang', role: 'archivist', roleName: '档案员', posts: ['BGS'] },
  { username: 'li', role: 'staff', roleName: '查阅人员', posts: ['DZZW'] },
  { username: 'zhao', role: 'archivist', roleName: '档案员', posts: ['DZZW'] },
];

/** A password the policy accepts (upper, lower, digit, symbol), easy to type from the screen. */
function demoPassword(): string {
  const pick = (s: string, n: number) => Array.from({ length: n }, () => s[randomInt(s.length)]).join('');
  return `${pick('ABCDEFGHJKLMNPQRSTUVWXYZ', 2)}${pick('abcdefghijkmnpqrstuvwxyz', 5)}-${pick('23456789', 4)}`;
}

export function isLoopbackHost(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === 'localhost' || host === '[::1]' || host === '::1';
}

interface SampleGt {
  item_id: string;
  files: string[];
  metadata: { archive_code: string; title: string; department: string; classification: string; retention_period: string; doc_number: string | null; issuer: string | null; date: string };
}

export interface DemoOptions {
  /** A data dir the operator named: used only if it does not exist or is empty. */
  dataDir?: string;
  httpAddr?: string;
  samplesDir?: string;
  /** Ingest only these sample ids (tests); default all. */
  only?: string[];
  log: Logger;
  /** Progress lines for the person at the console. */
  say: (line: string) => void;
}

export interface RunningDemo {
  running: RunningAppliance;
  cfg: Config;
  root: string;
  accounts: DemoAccount[];
  job?: Job;
  /** Stop the appliance and delete everything the demo made. */
  stop(): Promise<void>;
}

async function isEmptyOrMissing(dir: string): Promise<'missing' | 'empty' | 'used'> {
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) return 'used';
    return (await readdir(dir)).length === 0 ? 'empty' : 'used';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
}

/**
 * `archive demo`: the whole product at once, on nothing that matters. A temporary data dir
 * (never the configured or default one, never one that holds anything), loopback only on free
 * ports, ClamAV's test signatures (marked 演示模式 in the UI, health and every log line), the
 * three officers, two posts with a staff member and an archivist each (passwords printed), and
 * the samples ingested with their catalogue data. stop() deletes it all.
 */
export async function startDemo(o: DemoOptions): Promise<RunningDemo> {
  const httpAddr = o.httpAddr ?? '127.0.0.1:0';
  if (!/^[^\s:]+:\d{1,5}$/.test(httpAddr) || !isLoopbackHost(parseHostPort(httpAddr).host)) {
    throw new ApplianceError('DEMO_NOT_LOOPBACK', `演示模式只在本机回环地址上运行（如 127.0.0.1:8090），拒绝：${httpAddr}`, `demo runs on loopback only, refused ${httpAddr}`);
  }
  let given: 'missing' | 'empty' | undefined;
  if (o.dataDir) {
    const state = await isEmptyOrMissing(o.dataDir);
    if (state === 'used') {
      throw new ApplianceError(
        'DEMO_DATA_DIR_IN_USE',
        `演示模式不使用已有数据的目录：${o.dataDir}。请不指定 --data-dir（自动使用临时目录），或指定一个不存在的空目录。`,
        `demo refuses a data dir that holds data: ${o.dataDir}`,
      );
    }
    given = state;
  }
  const samplesDir = o.samplesDir ?? DEFAULT_SAMPLES_DIR;
  const gtDir = join(samplesDir, 'gt');
  let ids: string[];
  try {
    ids = (await readdir(gtDir))
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5))
      .sort();
  } catch {
    throw new ApplianceError('DEMO_SAMPLES_MISSING', `找不到样例：${samplesDir}（应有 gt/ 与 items/）。可用 --samples 指定。`, `samples not found at ${samplesDir}`);
  }
  if (o.only?.length) {
    const unknown = o.only.filter((id) => !ids.includes(id));
    if (unknown.length) throw new ApplianceError('DEMO_SAMPLES_UNKNOWN', `没有这些样例：${unknown.join('、')}（可用：${ids.join('、')}）`, `unknown samples ${unknown.join(',')}`);
    ids = ids.filter((id) => o.only!.includes(id));
  }

  const root = await mkdtemp(join(tmpdir(), 'archive-demo-'));
  const dataDir = o.dataDir ? resolve(o.dataDir) : join(root, 'data');
  const removeAll = async () => {
    await rm(root, { recursive: true, force: true });
    if (given === 'missing') await rm(dataDir, { recursive: true, force: true });
    else if (given === 'empty') for (const n of await readdir(dataDir).catch(() => [])) await rm(join(dataDir, n), { recursive: true, force: true });
  };
  try {
    // The demo's own signature set: ClamAV's test signatures, nothing else.
    const sigDir = join(root, 'clamav');
    await mkdir(sigDir, { mode: 0o700 });
    const sigFiles = await readdir(DEMO_SIGNATURES_DIR).catch(() => {
      throw new ApplianceError('DEMO_SIGNATURES_MISSING', `找不到 ClamAV 测试特征库：${DEMO_SIGNATURES_DIR}（演示模式须在源码目录中运行）。`, `test signatures not found at ${DEMO_SIGNATURES_DIR}`);
    });
    for (const f of sigFiles) await copyFile(join(DEMO_SIGNATURES_DIR, f), join(sigDir, f));

    // Defaults only, never the operator's config file or environment: the demo touches nothing real.
    const cfg = loadConfig({
      env: {},
      overrides: { dataDir, httpAddr, meili: { port: 0 }, clamd: `unix:${ownClamdSocket(dataDir)}`, clamdDatabaseDir: sigDir, integrity: { hour: 'off', scan: false }, backupDirs: [] },
    });
    if (ownClamdSocket(dataDir).length > 100)
      throw new ApplianceError('DEMO_PATH_TOO_LONG', `演示数据目录路径过长（clamd 套接字须短于 100 字符）：${dataDir}`, 'demo data dir path too long for a unix socket');

    // People and posts before the appliance starts: no setup token, nothing to type.
    const sec = await openSecurity(cfg);
    for (const p of DEMO_POSTS) await sec.identity.createPost({ code: p.code, name: p.name, department: p.name });
    const accounts: DemoAccount[] = [];
    for (const a of ACCOUNTS) {
      const password = demoPassword();
      await sec.identity.createUser({
        username: a.username,
        displayName: `${a.roleName}（演示）`,
        roles: [a.role],
        posts: a.posts,
        clearance: a.posts.length ? '内部' : undefined,
        passwordHash: await argon2Hasher.hash(password),
        mustChangePassword: false,
      });
      accounts.push({ ...a, password });
    }
    await sec.audit.append({
      ...consoleActor(),
      action: 'demo.setup',
      target: '-',
      outcome: 'success',
      details: { demo: true, accounts: accounts.map((a) => a.username), posts: DEMO_POSTS.map((p) => p.code), signatures: 'ClamAV test signatures only' },
    });

    o.log.warn({ demo: true, dataDir, signatures: sigDir }, '演示模式：临时数据目录，仅 ClamAV 测试特征库（不是真实病毒库），停止后删除 / demo mode: throwaway data, test signatures only');
    const running = await startAppliance(cfg, o.log, { demo: true });
    const demo: RunningDemo = {
      running,
      cfg: { ...cfg, httpAddr: running.httpAddr },
      root,
      accounts,
      async stop() {
        await running.stop();
        await removeAll();
      },
    };
    try {
      if (ids.length) demo.job = await ingestSamples(demo, samplesDir, ids, o.say);
    } catch (e) {
      await demo.stop();
      throw e;
    }
    return demo;
  } catch (e) {
    await removeAll();
    throw e;
  }
}

/** Copy the chosen samples beside a CSV made from their catalogue data, submit it, wait for the job. */
async function ingestSamples(demo: RunningDemo, samplesDir: string, ids: string[], say: (line: string) => void): Promise<Job> {
  const batch = join(demo.root, 'samples');
  await mkdir(batch, { recursive: true });
  const rows = ['文件,档号,题名,文号,责任者,日期,保管期限,密级,岗位'];
  const cell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  for (const id of ids) {
    const gt = JSON.parse(await readFile(join(samplesDir, 'gt', `${id}.json`), 'utf8')) as SampleGt;
    const m = gt.metadata;
    const post = DEMO_POSTS.find((p) => (p.departments as readonly string[]).includes(m.department)) ?? DEMO_POSTS[0];
    // One entry per item: a file, or the folder of its page images.
    const entry = gt.files[0].includes('/') ? gt.files[0].split('/')[0] : gt.files[0];
    await cp(join(samplesDir, 'items', entry), join(batch, entry), { recursive: true });
    rows.push([entry, m.archive_code, m.title, m.doc_number ?? '', m.issuer ?? m.department, m.date, m.retention_period, m.classification, post.code].map(cell).join(','));
  }
  await writeFile(join(batch, 'demo.csv'), `${rows.join('\n')}\n`);
  const job = await demo.running.ingest.submit([], { manifest: join(batch, 'demo.csv'), actor: { name: 'console', role: 'console', source: 'console:demo' }, via: 'cli' });
  say(`正在导入 ${ids.length} 件样例（OCR，约每页数秒至数十秒）……`);
  let last = '';
  for (;;) {
    const j = await demo.running.ingest.jobs.load(job.id);
    const p = jobProgress(j);
    const line = `  ${p.itemsFinished}/${p.items} 件，${p.pagesDone}/${p.pagesTotal} 页${j.state === 'waiting' ? `；等待：${j.waitingReason}` : ''}`;
    if (line !== last) say(line);
    last = line;
    if (j.state === 'done') {
      const bad = j.items.filter((i) => i.outcome !== 'archived');
      for (const i of bad) say(`  未归档：${i.label}（${i.outcome}${i.error ? `：${i.error.message}` : ''}）`);
      return j;
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
