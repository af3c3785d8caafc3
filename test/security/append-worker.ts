// Child process for the concurrency test: appends N records to an audit dir as fast as it can.
import { AuditLog } from '../../security/index.ts';

const [dir, n, who] = process.argv.slice(2);
const log = new AuditLog(dir);
const all: Array<Promise<unknown>> = [];
for (let i = 0; i < Number(n); i++) {
  all.push(log.append({ actor: who, role: 'console', source: 'test', action: 'test.append', target: String(i), outcome: 'success' }));
  if (i % 10 === 0) await all[all.length - 1];
}
await Promise.all(all);
