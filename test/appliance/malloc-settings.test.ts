import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, cleanup, startServe, waitFor, type ServeHandle } from '../support/appliance.ts';

// glibc's malloc settings keep the appliance under 1 GB on a 500-page scan (bench/big-item.ts):
// however it is started — `npx archive serve` (appliance/bin/archive), the systemd unit, or the
// installed `archive` command (which execs appliance/bin/archive) — the process has the same values.
const WANT = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576' };
let app: ServeHandle | undefined;

afterAll(async () => {
  if (app) {
    await app.stop('SIGTERM');
    await cleanup(app.dataDir);
  }
});

describe('malloc settings', () => {
  it('the entry script and the systemd unit set the same values; the installed command goes through the entry script', async () => {
    const entry = await readFile(join(ROOT, 'appliance/bin/archive'), 'utf8');
    const unit = await readFile(join(ROOT, 'appliance/systemd/archive.service'), 'utf8');
    for (const [k, v] of Object.entries(WANT)) {
      expect(entry).toContain(`export ${k}="\${${k}:-${v}}"`);
      expect(unit).toContain(`Environment=${k}=${v}`);
    }
    const install = await readFile(join(ROOT, 'appliance/install.sh'), 'utf8');
    expect(install).toContain('ENTRY=/opt/archive/current/app/appliance/bin/archive');
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin.archive).toBe('appliance/bin/archive');
  });

  it('`archive serve` started as the README starts it runs with them, and stops on SIGTERM', { timeout: 90_000 }, async () => {
    app = await startServe();
    const pid = app.proc.pid!;
    // exec: the process started is node itself (signals reach it), not a shell in between.
    const cmdline = await waitFor(
      async () => {
        const c = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
        return c.some((a) => a.endsWith('archive.mjs')) ? c : undefined;
      },
      30_000,
      'node running archive.mjs',
    );
    expect(cmdline.join(' ')).toContain('archive.mjs serve');
    const environ = Object.fromEntries(
      (await readFile(`/proc/${pid}/environ`, 'utf8'))
        .split('\0')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(environ).toMatchObject(WANT);
    await waitFor(async () => (app!.output().includes('已启动') ? true : undefined), 60_000, `started (output: ${app.output()})`);
    expect(await app.stop('SIGTERM')).toBe(0);
  });
});
