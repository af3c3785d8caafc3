import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseHostPort, pathExists } from '../core/index.ts';
import { readHead } from './audit-log.ts';
import { childPids, isDefaultRoute, isLoopbackAddress, isWildcardAddress, readInterfaces, readListeningSockets, readProc, readRoutes, socketOwners, type ListeningSocket } from './selfcheck-net.ts';

/**
 * The isolation self-check: is the appliance still where it belongs? Each check reads the machine
 * (routing tables, interfaces, sockets, file modes, the clock) and says ok / warning / failure with
 * what to do, in Chinese. Nothing here sends a packet anywhere.
 */

export type CheckStatus = 'ok' | 'warning' | 'failure';

export interface CheckResult {
  id: string;
  /** What was checked, in Chinese. */
  title: string;
  status: CheckStatus;
  /** What was found. */
  message: string;
  /** What to do about it (absent when ok). */
  action?: string;
  details?: Record<string, unknown>;
}

export interface SelfcheckReport {
  time: string;
  status: CheckStatus;
  counts: Record<CheckStatus, number>;
  checks: CheckResult[];
}

/** A component's health as the rest of the appliance reports it (clamd, disk, OCR data). */
export interface ProbeHealth {
  status: 'ok' | 'degraded' | 'down';
  reason: string;
  signatures?: { ageDays?: number; signatureVersion?: number };
}

export interface SelfcheckInputs {
  dataDir: string;
  /** The configured web address (host:port); the web server may listen there and nowhere else. */
  httpAddr: string;
  /** The config file in use (ARCHIVE_CONFIG / --config), if any: it holds the classification ceiling. */
  configFile?: string;
  /** Pid of the running appliance (`archive serve`), if one runs. */
  appPid?: number;
  /** Roots of /proc, /sys and / (for /etc, /run, /var/lib): tests hand in a simulated machine. */
  procRoot?: string;
  sysRoot?: string;
  rootDir?: string;
  clamd: () => Promise<ProbeHealth>;
  ocrData: () => Promise<ProbeHealth> | ProbeHealth;
  disk: () => Promise<ProbeHealth>;
  /** When this software was built (BUILD-INFO.json of the bundle): the clock cannot be earlier. */
  buildTime?: Date;
  now?: () => Date;
}

const FILE_MODE_FILES = ['meili-master.key', 'meili-search-key.json', 'identity.json', 'setup-token.json', 'sessions.json'];

function result(id: string, title: string, status: CheckStatus, message: string, action?: string, details?: Record<string, unknown>): CheckResult {
  return { id, title, status, message, ...(status !== 'ok' && action ? { action } : {}), ...(details ? { details } : {}) };
}

async function checkRoutes(procRoot: string): Promise<CheckResult> {
  const routes = await readRoutes(procRoot);
  const defaults = routes.filter(isDefaultRoute);
  const via = (r: (typeof routes)[number]) => `${r.family === 4 ? 'IPv4' : 'IPv6'} 经 ${r.iface}${r.gateway ? ` 网关 ${r.gateway}` : ''}`;
  if (defaults.length) {
    return result(
      'route.default',
      '默认路由',
      'failure',
      `存在默认路由：${defaults.map(via).join('；')}。本机有通往外部网络的路径。`,
      '删除默认路由（ip route del default；IPv6：ip -6 route del default），并从网络配置中去掉网关（/etc/network/interfaces 的 gateway 行、DHCP 下发的路由），然后重新运行 archive selfcheck。',
      { defaults },
    );
  }
  const gateways = routes.filter((r) => r.gateway);
  if (gateways.length) {
    return result(
      'route.default',
      '默认路由',
      'warning',
      `无默认路由，但有经网关的静态路由：${gateways.map((r) => `${r.destination}/${r.prefix} ${via(r)}`).join('；')}。`,
      '确认这些路由只通往本单位内网；不需要的请删除。',
      { gateways },
    );
  }
  return result('route.default', '默认路由', 'ok', `无默认路由，${routes.length} 条直连路由。`);
}

async function checkInterfaces(sysRoot: string): Promise<CheckResult> {
  const ifs = await readInterfaces(sysRoot);
  const up = ifs.filter((i) => i.up && !i.loopback).map((i) => i.name);
  const wifiUp = ifs.filter((i) => i.wireless && i.up).map((i) => i.name);
  const wifi = ifs.filter((i) => i.wireless).map((i) => i.name);
  const details = { interfaces: ifs };
  if (wifiUp.length) {
    return result(
      'net.interfaces',
      '网络接口',
      'failure',
      `无线网卡处于启用状态：${wifiUp.join('、')}。`,
      `立即停用（ip link set ${wifiUp[0]} down），并拆除或在 BIOS 中禁用无线网卡：涉密内网不得使用无线连接。`,
      details,
    );
  }
  if (wifi.length) {
    return result('net.interfaces', '网络接口', 'warning', `存在无线网卡（未启用）：${wifi.join('、')}。`, '拆除或在 BIOS 中禁用无线网卡。', details);
  }
  return result('net.interfaces', '网络接口', 'ok', up.length ? `已启用的有线接口：${up.join('、')}。` : '除回环接口外没有已启用的接口。', undefined, details);
}

async function meiliPid(dataDir: string, procRoot: string): Promise<number | undefined> {
  const pid = Number((await readFile(join(dataDir, 'run', 'meilisearch.pid'), 'utf8').catch(() => '')).trim());
  if (!pid) return undefined;
  const p = await readProc(procRoot, pid);
  return p && p.cmdline[0]?.includes('meilisearch') ? pid : undefined;
}

function describe(s: ListeningSocket): string {
  const host = s.family === 6 && !s.address.includes('.') ? `[${s.address}]` : s.address;
  return `${s.proto.toUpperCase()} ${host}:${s.port}${s.processName ? `（${s.processName}${s.pid ? ` 进程 ${s.pid}` : ''}）` : ''}`;
}

/** Does a socket match the configured web address? A wildcard host in the config allows any address. */
function matchesConfigured(s: ListeningSocket, httpAddr: string): boolean {
  const { host, port } = parseHostPort(httpAddr);
  if (s.proto !== 'tcp' || s.port !== port) return false;
  const h = host.replace(/^\[|\]$/g, '');
  if (isWildcardAddress(h)) return true;
  if (h === 'localhost') return isLoopbackAddress(s.address);
  return s.address === h || s.address === `::ffff:${h}`;
}

async function checkSockets(inp: SelfcheckInputs, procRoot: string): Promise<CheckResult[]> {
  const sockets = await readListeningSockets(procRoot);
  const owners = await socketOwners(procRoot);
  const names = new Map<number, string>();
  for (const s of sockets) {
    s.pid = owners.get(s.inode);
    if (s.pid !== undefined) {
      if (!names.has(s.pid)) names.set(s.pid, (await readProc(procRoot, s.pid))?.name ?? String(s.pid));
      s.processName = names.get(s.pid);
    }
  }
  const out: CheckResult[] = [];
  const meili = await meiliPid(inp.dataDir, procRoot);
  const ours = new Set<number>();
  if (inp.appPid) {
    ours.add(inp.appPid);
    for (const c of await childPids(procRoot, inp.appPid)) ours.add(c);
  }
  if (meili) ours.delete(meili);

  // Meilisearch: loopback only, whatever the configuration says.
  if (!meili) {
    out.push(
      result(
        'listen.meilisearch',
        'Meilisearch 监听地址',
        inp.appPid ? 'failure' : 'warning',
        inp.appPid ? '设备服务在运行，但找不到其 Meilisearch 进程。' : 'Meilisearch 未运行（设备服务未启动），无法检查其监听地址。',
        inp.appPid ? '查看设备服务日志；重启设备服务（systemctl restart archive）。' : '启动设备服务后再运行 archive selfcheck。',
      ),
    );
  } else {
    const mine = sockets.filter((s) => s.pid === meili);
    const open = mine.filter((s) => !isLoopbackAddress(s.address));
    out.push(
      open.length
        ? result(
            'listen.meilisearch',
            'Meilisearch 监听地址',
            'failure',
            `Meilisearch（进程 ${meili}）在非回环地址上监听：${open.map(describe).join('、')}。`,
            '立即停止设备服务（systemctl stop archive），检查是否有人改动了 Meilisearch 的启动参数或环境变量（MEILI_HTTP_ADDR），再启动。',
            { sockets: open },
          )
        : result('listen.meilisearch', 'Meilisearch 监听地址', 'ok', `Meilisearch（进程 ${meili}）仅在回环地址监听：${mine.map(describe).join('、') || '（未发现监听套接字）'}。`),
    );
  }

  // The appliance's own sockets: the configured web address, nothing else.
  if (inp.appPid) {
    const mine = sockets.filter((s) => s.pid !== undefined && ours.has(s.pid));
    const unexpected = mine.filter((s) => !matchesConfigured(s, inp.httpAddr));
    const web = mine.filter((s) => matchesConfigured(s, inp.httpAddr));
    const wide = web.filter((s) => !isLoopbackAddress(s.address));
    if (unexpected.length) {
      out.push(
        result(
          'listen.appliance',
          '设备服务监听地址',
          'failure',
          `设备服务在配置之外的地址上监听：${unexpected.map(describe).join('、')}（配置的网页地址为 ${inp.httpAddr}）。`,
          '停止设备服务并检查配置（httpAddr / ARCHIVE_HTTP_ADDR）与启动方式；只应有配置的网页端口。',
          { sockets: unexpected },
        ),
      );
    } else if (!web.length) {
      out.push(result('listen.appliance', '设备服务监听地址', 'warning', `设备服务未在配置的网页地址 ${inp.httpAddr} 上监听。`, '查看设备服务日志，确认网页服务已启动。'));
    } else {
      out.push(result('listen.appliance', '设备服务监听地址', 'ok', `网页服务仅在配置的地址监听：${web.map(describe).join('、')}${wide.length ? '（按配置对内网开放）' : ''}。`));
    }
  }

  // Anything else listening beyond loopback is not ours; the operator should know it is there.
  const foreign = sockets.filter((s) => !isLoopbackAddress(s.address) && !(s.pid !== undefined && (ours.has(s.pid) || s.pid === meili)));
  out.push(
    foreign.length
      ? result(
          'listen.other',
          '其他对外监听的服务',
          'warning',
          `以下非本设备的服务在非回环地址上监听：${foreign.slice(0, 20).map(describe).join('、')}${foreign.length > 20 ? ` 等 ${foreign.length} 个` : ''}。`,
          '逐一确认这些服务是运维所必需的；不需要的请停用（systemctl disable --now 服务名）。',
          { sockets: foreign },
        )
      : result('listen.other', '其他对外监听的服务', 'ok', '没有其他服务在非回环地址上监听。'),
  );
  return out;
}

async function checkTelemetry(inp: SelfcheckInputs, procRoot: string): Promise<CheckResult> {
  const pid = await meiliPid(inp.dataDir, procRoot);
  if (!pid) return result('telemetry', '遥测（数据外发）', 'warning', 'Meilisearch 未运行，无法读取其启动参数。', '启动设备服务后再运行 archive selfcheck。');
  const p = (await readProc(procRoot, pid))!;
  const addr = p.cmdline[p.cmdline.indexOf('--http-addr') + 1];
  if (!p.cmdline.includes('--no-analytics')) {
    return result(
      'telemetry',
      '遥测（数据外发）',
      'failure',
      `Meilisearch（进程 ${pid}）未带 --no-analytics 启动：它会尝试向外发送使用统计。`,
      '立即停止设备服务（systemctl stop archive），确认运行的是本设备安装的程序版本，再启动。',
      { cmdline: p.cmdline },
    );
  }
  if (!p.cmdline.includes('--http-addr') || !addr || !isLoopbackAddress(parseHostPort(addr).host)) {
    return result('telemetry', '遥测（数据外发）', 'failure', `Meilisearch（进程 ${pid}）的监听参数不是回环地址：${addr ?? '未指定'}。`, '停止设备服务并检查其启动方式。', { cmdline: p.cmdline });
  }
  return result('telemetry', '遥测（数据外发）', 'ok', `Meilisearch（进程 ${pid}）以 --no-analytics 启动，仅监听 ${addr}；OCR 语言数据取自本地。`);
}

function modeStr(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

async function checkPermissions(inp: SelfcheckInputs): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const st = await stat(inp.dataDir).catch(() => undefined);
  if (!st) {
    out.push(result('perm.dataDir', '数据目录权限', 'failure', `数据目录不存在：${inp.dataDir}。`, '检查配置的数据目录（dataDir / ARCHIVE_DATA_DIR）。'));
  } else {
    const loose = [] as string[];
    if (st.mode & 0o077) loose.push(`${inp.dataDir}（${modeStr(st.mode)}）`);
    for (const sub of ['config', 'items', 'audit', 'quarantine']) {
      const s = await stat(join(inp.dataDir, sub)).catch(() => undefined);
      if (s && s.mode & 0o077) loose.push(`${join(inp.dataDir, sub)}（${modeStr(s.mode)}）`);
    }
    out.push(
      loose.length
        ? result('perm.dataDir', '数据目录权限', 'failure', `数据目录可被其他用户访问：${loose.join('、')}。`, `chmod 700 ${inp.dataDir}（及所列子目录）。`, { paths: loose })
        : result('perm.dataDir', '数据目录权限', 'ok', `数据目录 ${inp.dataDir} 权限为 0700。`),
    );
  }
  const configDir = join(inp.dataDir, 'config');
  const names = new Set([...FILE_MODE_FILES, ...(await readdir(configDir).catch(() => [] as string[]))]);
  const loose: string[] = [];
  let checked = 0;
  for (const n of [...names].sort()) {
    const p = join(configDir, n);
    const s = await stat(p).catch(() => undefined);
    if (!s || !s.isFile()) continue;
    checked++;
    if (s.mode & 0o077) loose.push(`${p}（${modeStr(s.mode)}）`);
  }
  out.push(
    loose.length
      ? result(
          'perm.keys',
          '密钥与身份文件权限',
          'failure',
          `密钥或身份文件可被其他用户读取：${loose.join('、')}。`,
          `chmod 600 ${loose.map((l) => l.replace(/（.*$/, '')).join(' ')}；若怀疑已泄露，请更换 Meilisearch 主密钥（删除 meili-master.key 后重启）并重置相关口令。`,
          { files: loose },
        )
      : result('perm.keys', '密钥与身份文件权限', 'ok', `${checked} 个密钥与身份文件权限均为 0600 或更严。`),
  );

  if (inp.configFile) {
    const writable = await access(inp.configFile, constants.W_OK).then(
      () => true,
      () => false,
    );
    const s = await stat(inp.configFile).catch(() => undefined);
    const otherWrite = s ? (s.mode & 0o022) !== 0 : false;
    out.push(
      writable || otherWrite
        ? result(
            'perm.config',
            '配置文件（含密级上限）',
            'warning',
            `配置文件 ${inp.configFile} 可被${otherWrite ? '其他用户' : '设备服务用户'}修改：密级上限应只能由系统管理员在控制台修改。`,
            `chown root:archive ${inp.configFile} && chmod 640 ${inp.configFile}`,
          )
        : result('perm.config', '配置文件（含密级上限）', 'ok', `配置文件 ${inp.configFile} 对设备服务只读。`),
    );
  }
  return out;
}

async function probe(id: string, title: string, fn: () => Promise<ProbeHealth> | ProbeHealth): Promise<ProbeHealth | CheckResult> {
  try {
    return await fn();
  } catch (e) {
    return result(id, title, 'failure', `检查出错：${(e as Error).message}`, '查看设备服务日志。');
  }
}

async function checkClamd(inp: SelfcheckInputs): Promise<CheckResult> {
  const h = await probe('clamd', '病毒扫描服务与病毒库', inp.clamd);
  if ('id' in h) return h;
  if (h.status === 'down')
    return result(
      'clamd',
      '病毒扫描服务与病毒库',
      'failure',
      `clamd 不可用：${h.reason.replace(/。$/, '')}。导入将暂停，直到扫描服务恢复。`,
      '启动扫描服务（systemctl start clamav-daemon）；首次安装须先从经批准的介质导入病毒库。',
    );
  if (h.status === 'degraded') return result('clamd', '病毒扫描服务与病毒库', 'warning', `clamd 运行中，但病毒库过旧：${h.reason}。`, '从经批准的介质导入最新病毒库。');
  if (h.signatures?.ageDays === undefined)
    return result('clamd', '病毒扫描服务与病毒库', 'warning', `clamd 运行中，但只加载了自定义病毒库（无官方病毒库日期）：${h.reason}。`, '从经批准的介质导入官方病毒库（main/daily/bytecode）。');
  return result('clamd', '病毒扫描服务与病毒库', 'ok', `clamd 运行中，病毒库 ${h.signatures.ageDays} 天前发布。`);
}

async function checkOcr(inp: SelfcheckInputs): Promise<CheckResult> {
  const h = await probe('ocr', 'OCR 语言数据', inp.ocrData);
  if ('id' in h) return h;
  return h.status === 'ok'
    ? result('ocr', 'OCR 语言数据', 'ok', `OCR 语言数据齐全（${h.reason}）。`)
    : result('ocr', 'OCR 语言数据', 'failure', `OCR 语言数据缺失：${h.reason}。`, '重新安装设备程序（安装包内含语言数据）。');
}

async function checkDisk(inp: SelfcheckInputs): Promise<CheckResult> {
  const h = await probe('disk', '磁盘空间', inp.disk);
  if ('id' in h) return h;
  if (h.status === 'down') return result('disk', '磁盘空间', 'failure', `数据盘空间不足：${h.reason}。导入会失败。`, '清理或扩容数据盘；先做备份再删除任何内容。');
  if (h.status === 'degraded') return result('disk', '磁盘空间', 'warning', `数据盘空间偏少：${h.reason}。`, '计划扩容数据盘。');
  return result('disk', '磁盘空间', 'ok', `数据盘空间充足：${h.reason}。`);
}

/** NTP servers on the public internet in a time-sync config: on this network they can never answer. */
const PUBLIC_NTP = /\b(pool\.ntp\.org|time\.(?:google|windows|apple|cloudflare)\.com|ntp\.ubuntu\.com|time\.nist\.gov)\b/i;

async function checkTime(inp: SelfcheckInputs, rootDir: string): Promise<CheckResult> {
  const now = (inp.now ?? (() => new Date()))();
  const title = '系统时钟与时间源';
  if (inp.buildTime && now.getTime() < inp.buildTime.getTime() - 24 * 3_600_000) {
    return result(
      'time',
      title,
      'failure',
      `系统时钟（${now.toISOString()}）早于本程序的构建时间（${inp.buildTime.toISOString()}）：时钟不对。`,
      '校正系统时间（timedatectl set-time 或 date -s），并检查主板电池；审计记录的时间依赖于它。',
    );
  }
  const head = await readHead(join(inp.dataDir, 'audit'));
  if (head?.time && now.getTime() < new Date(head.time).getTime() - 5 * 60_000) {
    return result(
      'time',
      title,
      'failure',
      `系统时钟（${now.toISOString()}）早于最后一条审计记录的时间（${head.time}）：时钟被回拨过。`,
      '校正系统时间，并请安全审计员查明原因（审计记录的先后以序号为准）。',
    );
  }
  const file = async (p: string) => readFile(join(rootDir, p), 'utf8').catch(() => undefined);
  const has = (p: string) => pathExists(join(rootDir, p));
  const configs = (await Promise.all(['etc/chrony/chrony.conf', 'etc/systemd/timesyncd.conf', 'etc/ntp.conf', 'etc/ntpsec/ntp.conf'].map(file))).filter(Boolean).join('\n');
  const activeLines = configs.split('\n').filter((l) => !/^\s*[#;]/.test(l));
  const publicServer = activeLines.find((l) => PUBLIC_NTP.test(l));
  const synced = await has('run/systemd/timesync/synchronized');
  const chrony = await has('run/chrony/chronyd.pid');
  const ntpd = (await has('run/ntpd.pid')) || (await has('run/ntpsec/ntpd.pid'));
  if (publicServer) {
    return result(
      'time',
      title,
      'warning',
      `时间同步配置指向互联网上的服务器（${publicServer.trim()}）：本网络无法到达，时间实际未同步。`,
      '改为本单位内网的时间源（chrony.conf 的 server 行），或停用时间同步服务并定期人工校时。',
    );
  }
  if (synced || chrony || ntpd) {
    return result('time', title, 'ok', `时钟未早于构建时间与最后审计记录；时间同步：${synced ? 'systemd-timesyncd 已同步' : chrony ? 'chronyd 运行中' : 'ntpd 运行中'}。`);
  }
  return result('time', title, 'warning', '时钟未早于构建时间与最后审计记录，但未发现运行中的时间同步服务。', '若内网有时间源，请配置 chrony 指向它；否则由系统管理员定期人工校时。');
}

/** Run every check; none of them sends a packet. */
export async function selfcheck(inp: SelfcheckInputs): Promise<SelfcheckReport> {
  const procRoot = inp.procRoot ?? '/proc';
  const sysRoot = inp.sysRoot ?? '/sys';
  const rootDir = inp.rootDir ?? '/';
  const guard = async (id: string, title: string, fn: () => Promise<CheckResult | CheckResult[]>): Promise<CheckResult[]> => {
    try {
      const r = await fn();
      return Array.isArray(r) ? r : [r];
    } catch (e) {
      return [result(id, title, 'failure', `检查出错：${(e as Error).message}`, '查看设备服务日志。')];
    }
  };
  const groups = await Promise.all([
    guard('route.default', '默认路由', () => checkRoutes(procRoot)),
    guard('net.interfaces', '网络接口', () => checkInterfaces(sysRoot)),
    guard('listen', '监听端口', () => checkSockets(inp, procRoot)),
    guard('telemetry', '遥测（数据外发）', () => checkTelemetry(inp, procRoot)),
    guard('perm', '文件权限', () => checkPermissions(inp)),
    guard('clamd', '病毒扫描服务与病毒库', () => checkClamd(inp)),
    guard('ocr', 'OCR 语言数据', () => checkOcr(inp)),
    guard('disk', '磁盘空间', () => checkDisk(inp)),
    guard('time', '系统时钟与时间源', () => checkTime(inp, rootDir)),
  ]);
  const checks = groups.flat();
  const counts = { ok: 0, warning: 0, failure: 0 } as Record<CheckStatus, number>;
  for (const c of checks) counts[c.status]++;
  const status: CheckStatus = counts.failure ? 'failure' : counts.warning ? 'warning' : 'ok';
  return { time: (inp.now ?? (() => new Date()))().toISOString(), status, counts, checks };
}
