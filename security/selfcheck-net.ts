import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pathExists } from '../core/index.ts';

/**
 * What the kernel says about routes, interfaces and listening sockets, read from /proc and /sys
 * only: the isolation self-check must never send a packet to find out whether one would get out.
 * Every path is taken relative to a root so tests can hand in a simulated machine.
 */

export interface Route {
  family: 4 | 6;
  iface: string;
  destination: string;
  prefix: number;
  gateway?: string;
}

export interface NetInterface {
  name: string;
  up: boolean;
  loopback: boolean;
  wireless: boolean;
}

export interface ListeningSocket {
  proto: 'tcp' | 'udp';
  family: 4 | 6;
  address: string;
  port: number;
  inode: number;
  /** Owning process, when /proc/<pid>/fd of it could be read. */
  pid?: number;
  processName?: string;
}

const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;
const RTF_REJECT = 0x200;

async function lines(path: string): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim());
  } catch {
    return [];
  }
}

/** /proc/net/route writes IPv4 addresses as little-endian hex. */
export function ipv4FromHex(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

/** /proc/net/tcp6 writes IPv6 addresses as four little-endian 32-bit words; ipv6_route as plain hex. */
function ipv6FromWords(hex: string): string {
  let plain = '';
  for (let i = 0; i < 32; i += 8)
    plain += hex
      .slice(i, i + 8)
      .match(/../g)!
      .reverse()
      .join('');
  return ipv6FromPlain(plain);
}

function ipv6FromPlain(hex: string): string {
  const g = hex
    .toLowerCase()
    .match(/.{4}/g)!
    .map((x) => parseInt(x, 16));
  if (g.length >= 6 && g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`;
  // Shorten the longest run of zero groups, as people write them.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < g.length; i++) {
    let j = i;
    while (j < g.length && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = Math.max(i, j);
  }
  const hexes = g.map((x) => x.toString(16));
  if (best < 0) return hexes.join(':');
  return `${hexes.slice(0, best).join(':')}::${hexes.slice(best + bestLen).join(':')}`;
}

function bitCount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x; x >>>= 1) c += x & 1;
  return c;
}

export async function readRoutes(procRoot: string): Promise<Route[]> {
  const out: Route[] = [];
  for (const l of (await lines(join(procRoot, 'net/route'))).slice(1)) {
    const c = l.trim().split(/\s+/);
    if (c.length < 8) continue;
    const flags = parseInt(c[3], 16);
    if (!(flags & RTF_UP) || flags & RTF_REJECT) continue;
    out.push({ family: 4, iface: c[0], destination: ipv4FromHex(c[1]), prefix: bitCount(parseInt(c[7], 16)), gateway: flags & RTF_GATEWAY ? ipv4FromHex(c[2]) : undefined });
  }
  for (const l of await lines(join(procRoot, 'net/ipv6_route'))) {
    const c = l.trim().split(/\s+/);
    if (c.length < 10) continue;
    const flags = parseInt(c[8], 16);
    // The kernel keeps an "unreachable" default on lo (RTF_REJECT): that is no way out.
    if (!(flags & RTF_UP) || flags & RTF_REJECT || c[9] === 'lo') continue;
    const gw = /^0+$/.test(c[4]) ? undefined : ipv6FromPlain(c[4]);
    out.push({ family: 6, iface: c[9], destination: ipv6FromPlain(c[0]), prefix: parseInt(c[1], 16), gateway: flags & RTF_GATEWAY || gw ? gw : undefined });
  }
  return out;
}

export function isDefaultRoute(r: Route): boolean {
  return r.prefix === 0;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

export async function readInterfaces(sysRoot: string): Promise<NetInterface[]> {
  const base = join(sysRoot, 'class/net');
  const names = await readdir(base).catch(() => [] as string[]);
  const out: NetInterface[] = [];
  for (const name of names.sort()) {
    const dir = join(base, name);
    const oper = await readText(join(dir, 'operstate'));
    const flags = parseInt((await readText(join(dir, 'flags'))) ?? '0', 16);
    const type = await readText(join(dir, 'type'));
    out.push({
      name,
      // operstate is "unknown" for lo and some virtual links; IFF_UP (0x1) in flags says it is up.
      up: oper === 'up' || (oper === 'unknown' && (flags & 1) === 1),
      loopback: type === '772' || name === 'lo',
      wireless: (await pathExists(join(dir, 'wireless'))) || (await pathExists(join(dir, 'phy80211'))),
    });
  }
  return out;
}

/** Listening TCP sockets and bound UDP sockets (UDP has no LISTEN state: every unconnected one counts). */
export async function readListeningSockets(procRoot: string): Promise<ListeningSocket[]> {
  const out: ListeningSocket[] = [];
  const files: Array<[string, 'tcp' | 'udp', 4 | 6]> = [
    ['net/tcp', 'tcp', 4],
    ['net/tcp6', 'tcp', 6],
    ['net/udp', 'udp', 4],
    ['net/udp6', 'udp', 6],
  ];
  for (const [file, proto, family] of files) {
    for (const l of (await lines(join(procRoot, file))).slice(1)) {
      const c = l.trim().split(/\s+/);
      if (c.length < 10) continue;
      const state = c[3];
      if (proto === 'tcp' ? state !== '0A' : state !== '07') continue;
      const [hex, portHex] = c[1].split(':');
      const remotePort = parseInt(c[2].split(':')[1], 16);
      if (proto === 'udp' && remotePort !== 0) continue;
      out.push({ proto, family, address: family === 4 ? ipv4FromHex(hex) : ipv6FromWords(hex), port: parseInt(portHex, 16), inode: Number(c[9]) });
    }
  }
  return out;
}

export function isLoopbackAddress(addr: string): boolean {
  return /^127\./.test(addr) || addr === '::1' || /^::ffff:127\./.test(addr);
}

export function isWildcardAddress(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::';
}

export interface ProcInfo {
  pid: number;
  ppid?: number;
  name: string;
  cmdline: string[];
}

export async function readProc(procRoot: string, pid: number): Promise<ProcInfo | undefined> {
  const raw = await readFile(join(procRoot, String(pid), 'cmdline'), 'utf8').catch(() => undefined);
  if (raw === undefined) return undefined;
  const cmdline = raw.split('\0').filter((s, i, a) => s !== '' || i < a.length - 1);
  const status = (await readText(join(procRoot, String(pid), 'status'))) ?? '';
  const name = /^Name:\s*(.+)$/m.exec(status)?.[1] ?? cmdline[0]?.split('/').pop() ?? String(pid);
  const ppid = /^PPid:\s*(\d+)$/m.exec(status)?.[1];
  return { pid, ppid: ppid ? Number(ppid) : undefined, name, cmdline };
}

/**
 * Map socket inodes to the processes that hold them, by reading /proc/<pid>/fd links. Processes
 * whose fds cannot be read (another user, when not root) are left out: their sockets stay unattributed.
 */
export async function socketOwners(procRoot: string): Promise<Map<number, number>> {
  const owners = new Map<number, number>();
  const pids = (await readdir(procRoot).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n));
  for (const p of pids) {
    const fdDir = join(procRoot, p, 'fd');
    const fds = await readdir(fdDir).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(join(fdDir, fd)).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && !owners.has(Number(m[1]))) owners.set(Number(m[1]), Number(p));
    }
  }
  return owners;
}

/** Children of a process (direct), from /proc/<pid>/status PPid. */
export async function childPids(procRoot: string, parent: number): Promise<number[]> {
  const pids = (await readdir(procRoot).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n));
  const out: number[] = [];
  for (const p of pids) {
    const st = await readText(join(procRoot, p, 'status'));
    if (st && Number(/^PPid:\s*(\d+)$/m.exec(st)?.[1]) === parent) out.push(Number(p));
  }
  return out;
}
