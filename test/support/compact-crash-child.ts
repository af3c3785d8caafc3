// An `archive compact` that dies (SIGKILL, as a power cut or an OOM kill would end it) right after a
// given step: run by test/appliance/compact.test.ts in its own process. Args: data dir, step.
import { loadConfig } from '../../core/index.ts';
import { compactMeili } from '../../appliance/meili-compact.ts';

const [dataDir, step] = process.argv.slice(2);
const cfg = loadConfig({ env: { ARCHIVE_DATA_DIR: dataDir!, ARCHIVE_MEILI_PORT: '0' } });
await compactMeili(cfg, {
  afterStep: (s) => {
    if (s === step) process.kill(process.pid, 'SIGKILL');
  },
});
process.stdout.write('finished\n');
