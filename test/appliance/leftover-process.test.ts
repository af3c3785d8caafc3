import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopLeftover } from '../../appliance/leftover-process.ts';
import { createLogger } from '../../core/log.ts';
import { cleanup, tempDir } from '../support/appliance.ts';

// A child left running by an appliance that was killed (clamd, Meilisearch) is stopped at the next
// start — only if the pid file's process is still that child: a pid reused by another program is
// never killed.
let dir: string;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  dir = await tempDir('archive-leftover-');
});
afterAll(async () => {
  await cleanup(dir);
});

describe('stopLeftover', () => {
  it('kills the process the pid file names when its command line is ours, and leaves any other alone', async () => {
    const child = spawn('sleep', ['600'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    const pidFile = join(dir, 'x.pid');
    await writeFile(pidFile, `${child.pid}\n`);
    const log = createLogger({ level: 'silent' });
    // Not ours (another program took the pid): left running.
    await stopLeftover(pidFile, (c) => c[0] === 'clamd', log, 'clamd');
    expect(alive(child.pid!)).toBe(true);
    // Ours: stopped.
    await stopLeftover(pidFile, (c) => c[0] === 'sleep' && c[1] === '600', log, 'sleep');
    await exited;
    expect(alive(child.pid!)).toBe(false);
    // No pid file, or an empty one: nothing to do.
    await stopLeftover(join(dir, 'none.pid'), () => true, log, 'x');
    await writeFile(pidFile, '');
    await stopLeftover(pidFile, () => true, log, 'x');
  });
});
