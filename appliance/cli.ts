import { Command } from 'commander';
import { registerServe } from './commands/serve.ts';
import { registerIngest } from './commands/ingest.ts';
import { registerReindex } from './commands/reindex.ts';
import { registerStatus } from './commands/status.ts';
import { registerUser } from './commands/user.ts';
import { registerPost } from './commands/post.ts';
import { registerAudit } from './commands/audit.ts';
import { registerOcr } from './commands/ocr.ts';
import { registerSearch } from './commands/search.ts';
import { registerSelfcheck } from './commands/selfcheck.ts';
import { registerBundle } from './commands/bundle.ts';
import { registerBackup } from './commands/backup.ts';
import { registerVerify } from './commands/verify.ts';
import { registerSignatures } from './commands/signatures.ts';
import { registerDemo } from './commands/demo.ts';
import { registerFederation } from './commands/federation.ts';
import { registerCompact } from './commands/compact.ts';
import { commanderErrorZh } from './cli-errors.ts';

const program = new Command();
program
  .name('archive')
  .description('档案检索一体机 — archive appliance console')
  .option('-c, --config <file>', '配置文件 (JSON) config file; also ARCHIVE_CONFIG')
  .option('-d, --data-dir <dir>', '数据目录 data dir (default ./data); also ARCHIVE_DATA_DIR')
  .option('--json', '以 JSON 输出 machine-readable output')
  .showHelpAfterError('（使用 --help 查看用法）')
  .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(commanderErrorZh(s)) })
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

registerServe(program);
registerStatus(program);
registerIngest(program);
registerReindex(program);
registerUser(program);
registerPost(program);
registerAudit(program);
registerOcr(program);
registerSearch(program);
registerSelfcheck(program);
registerBundle(program);
registerBackup(program);
registerVerify(program);
registerSignatures(program);
registerDemo(program);
registerFederation(program);
registerCompact(program);

await program.parseAsync(process.argv);
