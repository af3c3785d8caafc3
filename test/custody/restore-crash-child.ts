// A restore that dies (SIGKILL, as a power cut or an OOM kill would end it) at a given stage:
// run by restore-durable.test.ts in its own process. Args: backup, identity file, passphrase file, signer, target, stage.
import { readFile } from 'node:fs/promises';
import { openIdentity } from '../../custody/backup-keys.ts';
import { restoreBackup } from '../../custody/backup-restore.ts';

const [file, identityPath, passPath, signer, target, stage] = process.argv.slice(2);
const identity = await openIdentity(identityPath, (await readFile(passPath, 'utf8')).trim());
await restoreBackup([file], {
  dataDir: target,
  key: { identity, trustedSigners: [signer] },
  reindex: false,
  onStage: (s) => {
    if (s === stage) process.kill(process.pid, 'SIGKILL');
  },
});
process.stdout.write('finished\n');
