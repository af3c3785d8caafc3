import type { Command } from 'commander';
import { action, configFor, globalOptions } from '../cli-common.ts';
import { openSecurity } from '../../security/index.ts';
import { consoleAudited } from './console-audit.ts';

export function registerPost(program: Command): void {
  const post = program.command('post').description('岗位管理（控制台）posts at the console');

  post
    .command('add <code> <name>')
    .description('新建岗位 add a post, e.g. archive post add BGS-KY 办公室科员 --department 办公室')
    .option('--department <name>', '部门 department')
    .action(
      action(async (code: string, name: string, opts: { department?: string }, cmd: Command) => {
        const sec = await openSecurity(configFor(cmd));
        const p = await consoleAudited(sec.audit, 'post.create', code, async () => {
          const created = await sec.identity.createPost({ code, name, department: opts.department });
          return { result: created, details: { name: created.name, department: created.department } };
        });
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true, post: p })}\n`);
        else process.stdout.write(`已创建岗位 ${p.code} ${p.name}\n`);
      }),
    );

  post
    .command('list')
    .description('列出岗位（按部门）list posts by department')
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const sec = await openSecurity(configFor(cmd));
        const posts = (await sec.identity.posts()).sort((a, b) => a.department.localeCompare(b.department, 'zh') || a.code.localeCompare(b.code));
        if (globalOptions(cmd).json) {
          process.stdout.write(`${JSON.stringify({ ok: true, posts })}\n`);
          return;
        }
        if (!posts.length) process.stdout.write('（尚无岗位）\n');
        for (const p of posts) process.stdout.write(`${(p.department || '-').padEnd(10)} ${p.code.padEnd(12)} ${p.name}\n`);
      }),
    );
}
