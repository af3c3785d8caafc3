import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort } from '../../appliance/meili-supervisor.ts';
import { cleanup, pidAlive, ROOT, tempDir, waitFor } from '../support/appliance.ts';

/** Every process whose command line names `needle` (the data dir), from /proc: inspect, never guess. */
async function processesNaming(needle: string): Promise<Array<{ pid: number; cmdline: string }>> {
  const out: Array<{ pid: number; cmdline: string }> = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    if (cmdline.includes(needle)) out.push({ pid: Number(name), cmdline });
  }
  return out;
}

describe("a clean stop from the README's own start command", () => {
  let dataDir = '';
  afterAll(async () => {
    // Whatever the outcome, leave nothing running behind.
    for (const p of await processesNaming(dataDir)) process.kill(p.pid, 'SIGKILL');
    await cleanup(dataDir);
  });

  it("SIGTERM to `npx archive serve` (npm's wrapper) stops the server and its Meilisearch", async () => {
    dataDir = await tempDir('archive-stop-');
    const port = await freeLoopbackPort();
    let out = '';
    // Exactly the README's command (`npx archive serve`), run in the repository; the data dir is
    // on the command line so /proc shows every process of this appliance.
    const npx = spawn('npx', ['archive', '--data-dir', dataDir, 'serve', '--http-addr', `127.0.0.1:${port}`], {
      cwd: ROOT,
      env: { ...process.env, ARCHIVE_MEILI_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    npx.stdout!.on('data', (d) => (out += d));
    npx.stderr!.on('data', (d) => (out += d));
    const npxExit = new Promise<void>((r) => npx.once('exit', () => r()));
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/api/health`)).status ? true : undefined), 90_000, `appliance up (output: ${out})`);

    const run = JSON.parse(await readFile(join(dataDir, 'run', 'appliance.json'), 'utf8')) as { pid: number };
    const meiliPid = Number((await readFile(join(dataDir, 'run', 'meilisearch.pid'), 'utf8')).trim());
    // npm's wrapper sits in between: the server is not the pid the operator holds.
    expect(run.pid).not.toBe(npx.pid);
    expect(pidAlive(run.pid)).toBe(true);
    expect(pidAlive(meiliPid)).toBe(true);
    const before = await processesNaming(dataDir);
    expect(before.map((p) => p.pid)).toEqual(expect.arrayContaining([run.pid, meiliPid]));

    npx.kill('SIGTERM');
    await npxExit;
    await waitFor(async () => (!pidAlive(run.pid) && !pidAlive(meiliPid) ? true : undefined), 60_000, `server ${run.pid} and meilisearch ${meiliPid} gone`);
    expect(await processesNaming(dataDir)).toEqual([]);
    // Stopped cleanly (not killed): the shutdown ran and removed Meilisearch's pid file.
    const logged = await waitFor(async () => (out.includes('appliance stopped') ? out : undefined), 10_000, `stop logged (output: ${out})`);
    expect(logged).toContain('npm wrapper ended; shutting down');
    await expect(readFile(join(dataDir, 'run', 'meilisearch.pid'), 'utf8')).rejects.toThrow();
  });
});
