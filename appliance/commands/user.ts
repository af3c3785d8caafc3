import type { Command } from 'commander';
import { action, configFor, globalOptions } from '../cli-common.ts';
import { type Classification, ApplianceError } from '../../core/index.ts';
import { argon2Hasher, openSecurity, parseRole, passwordProblems, ROLE_NAMES, SetupToken } from '../../security/index.ts';
import { consoleAudited, list, readPassword } from './console-audit.ts';

/**
 * Console user administration. Acts directly on the data dir, whether or not `archive serve`
 * runs: the identity store re-reads under its lock before every change, and the server notices
 * the new file on its next request (a changed user's sessions end then). Recorded in the audit
 * trail as actor `console` with the OS user as source.
 */
function policy(password: string, username: string): void {
  const p = passwordProblems(password, username);
  if (p.length) throw new ApplianceError('PASSWORD_POLICY', `密码不符合要求：${p.join('；')}。`, 'password policy');
}

interface PwOpts {
  passwordStdin?: boolean;
  passwordFile?: string;
  forceChange?: boolean;
}

export function registerUser(program: Command): void {
  const user = program.command('user').description('用户管理（控制台）user accounts at the console');

  user
    .command('add <name>')
    .description('新建用户 add a user; roles: staff 查阅人员, archivist 档案员, sysadmin 系统管理员, secadmin 安全保密管理员, auditor 安全审计员')
    .requiredOption('--role <roles>', '角色，可逗号分隔（代码或中文名）role code(s) or Chinese name(s)')
    .option('--posts <codes>', '岗位代码，逗号分隔 post codes, comma-separated')
    .option('--clearance <level>', '密级 公开/内部/秘密/机密/绝密 (default 公开)')
    .option('--display-name <name>', '姓名 display name')
    .option('--password-stdin', '从标准输入读取密码 read the password from stdin')
    .option('--password-file <file>', '从文件读取密码 read the password from a file')
    .option('--no-force-change', '首次登录无需改密 do not force a change at first login')
    .action(
      action(async (name: string, opts: PwOpts & { role: string; posts?: string; clearance?: string; displayName?: string }, cmd: Command) => {
        const sec = await openSecurity(configFor(cmd));
        const json = Boolean(globalOptions(cmd).json);
        const created = await consoleAudited(sec.audit, 'user.create', name, async () => {
          const roles = list(opts.role)!.map(parseRole);
          const password = await readPassword(opts);
          policy(password, name);
          const u = await sec.identity.createUser({
            username: name,
            displayName: opts.displayName,
            roles,
            posts: list(opts.posts),
            clearance: opts.clearance as Classification | undefined,
            passwordHash: await argon2Hasher.hash(password),
            mustChangePassword: opts.forceChange !== false,
          });
          await new SetupToken(sec.configDir, sec.identity).retireIfDone();
          return { result: u, details: { roles: u.roles, posts: u.posts, clearance: u.clearance } };
        });
        if (json) process.stdout.write(`${JSON.stringify({ ok: true, user: { username: created.username, roles: created.roles, posts: created.posts, clearance: created.clearance } })}\n`);
        else process.stdout.write(`已创建用户 ${created.username}（${created.roles.map((r) => ROLE_NAMES[r]).join('、') || '无角色'}）\n`);
      }),
    );

  for (const [verb, disabled, zh] of [
    ['disable', true, '停用'],
    ['enable', false, '启用'],
  ] as const) {
    user
      .command(`${verb} <name>`)
      .description(`${zh}用户 ${verb} a user (its sessions end)`)
      .action(
        action(async (name: string, _o: unknown, cmd: Command) => {
          const sec = await openSecurity(configFor(cmd));
          await consoleAudited(sec.audit, `user.${verb}`, name, async () => ({ result: await sec.identity.setDisabled(name, disabled) }));
          if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
          else process.stdout.write(`已${zh}用户 ${name}\n`);
        }),
      );
  }

  user
    .command('passwd <name>')
    .description('重设密码 set a new password (the user must change it at next login unless --no-force-change; item access returns when the 安全保密管理员 confirms the reset)')
    .option('--password-stdin', '从标准输入读取密码')
    .option('--password-file <file>', '从文件读取密码')
    .option('--no-force-change', '下次登录无需改密')
    .action(
      action(async (name: string, opts: PwOpts, cmd: Command) => {
        const sec = await openSecurity(configFor(cmd));
        await consoleAudited(sec.audit, 'user.password.reset', name, async () => {
          const password = await readPassword(opts);
          policy(password, name);
          // Someone else's password set at the console: like a reset on the web, the account's item
          // access waits for the 安全保密管理员's confirmation, and it is not the owner's own password.
          return {
            result: await sec.identity.setPassword(name, await argon2Hasher.hash(password), opts.forceChange !== false, { kind: 'admin', by: 'console' }),
            details: { mustChangePassword: opts.forceChange !== false, awaitingConfirmation: true },
          };
        });
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
        else process.stdout.write(`已重设用户 ${name} 的密码\n`);
      }),
    );

  user
    .command('set <name>')
    .description('修改角色、岗位或密级 change roles, posts or clearance (its sessions end)')
    .option('--role <roles>', '新角色（替换原有）roles, replacing the current ones')
    .option('--posts <codes>', '新岗位（替换原有）posts, replacing the current ones')
    .option('--clearance <level>', '密级 clearance')
    .action(
      action(async (name: string, opts: { role?: string; posts?: string; clearance?: string }, cmd: Command) => {
        const sec = await openSecurity(configFor(cmd));
        if (opts.role !== undefined) {
          await consoleAudited(sec.audit, 'user.roles', name, async () => {
            const r = await sec.identity.setRoles(name, list(opts.role)!.map(parseRole));
            return { result: r, details: { before: r.before, after: r.user.roles } };
          });
        }
        if (opts.posts !== undefined || opts.clearance !== undefined) {
          await consoleAudited(sec.audit, 'user.access', name, async () => {
            const r = await sec.identity.setAccess(name, { posts: list(opts.posts), clearance: opts.clearance as Classification | undefined });
            return { result: r, details: { before: r.before, after: { posts: r.user.posts, clearance: r.user.clearance } } };
          });
        }
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
        else process.stdout.write(`已更新用户 ${name}\n`);
      }),
    );

  user
    .command('list')
    .description('列出用户 list users')
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const sec = await openSecurity(configFor(cmd));
        const users = (await sec.identity.users()).map(({ username, displayName, roles, posts, clearance, disabled, mustChangePassword, resetPending, filingPosts, createdAt }) => ({
          username,
          displayName,
          roles,
          posts,
          clearance,
          disabled,
          mustChangePassword,
          resetPending: resetPending ?? null,
          filingPosts: filingPosts ?? [],
          createdAt,
        }));
        if (globalOptions(cmd).json) {
          process.stdout.write(`${JSON.stringify({ ok: true, users })}\n`);
          return;
        }
        if (!users.length) process.stdout.write('（尚无用户）\n');
        for (const u of users) {
          process.stdout.write(
            `${u.username.padEnd(16)} ${u.roles
              .map((r) => ROLE_NAMES[r])
              .join('、')
              .padEnd(
                10,
              )} 岗位 ${u.posts.join(',') || '-'}  密级 ${u.clearance}${u.disabled ? '  [已停用]' : ''}${u.mustChangePassword ? '  [须改密]' : ''}${u.resetPending ? `  [重置待安全保密管理员确认：${u.resetPending.by}]` : ''}\n`,
          );
        }
      }),
    );

  user
    .command('setup-token')
    .description('重新生成初始设置令牌（仅当三员账户尚未建齐）issue a new first-start setup token')
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const sec = await openSecurity(configFor(cmd));
        const token = await consoleAudited(sec.audit, 'auth.setup-token', 'setup', async () => ({ result: await new SetupToken(sec.configDir, sec.identity).issue() }));
        if (globalOptions(cmd).json) process.stdout.write(`${JSON.stringify({ ok: true, token: token ?? null })}\n`);
        else process.stdout.write(token ? `初始设置令牌：${token}\n` : '三员账户均已建立，无需设置令牌。\n');
      }),
    );
}
