import type { Command } from 'commander';
import { action, configFor, globalOptions } from '../cli-common.ts';
import { type Config, ApplianceError, type Viewer } from '../../core/index.ts';
import { consoleServices } from '../console-services.ts';
import { can, openSecurity, type AuditLog } from '../../security/index.ts';
import { createSearchService, type SearchService } from '../../search/index.ts';
import { listPeers, officeOf } from '../../federation/index.ts';
import { consoleAudited } from './console-audit.ts';

/** Posts and clearance of an enabled account whose role may search (the same rule as the web routes). */
async function viewerOf(cfg: Config, username: string): Promise<{ viewer: Viewer; audit: Awaited<ReturnType<typeof openSecurity>>['audit'] }> {
  const sec = await openSecurity(cfg);
  const user = await sec.identity.findUser(username);
  if (!user || user.disabled) throw new ApplianceError('USER_UNKNOWN', `用户不存在或已停用：${username}`, `no enabled user ${username}`, { status: 404 });
  if (!can(user.roles, 'item:search')) throw new ApplianceError('FORBIDDEN', `用户 ${username} 的角色无权检索档案。`, `user ${username} may not search`, { status: 403 });
  if (user.resetPending)
    throw new ApplianceError(
      'RESET_AWAITING_CONFIRMATION',
      `用户 ${username} 的密码已被管理员重置，须待安全保密管理员确认后才能检索档案。`,
      `password reset of ${username} awaits the security officer`,
      { status: 403 },
    );
  return { viewer: { posts: [...user.posts], clearance: user.clearance }, audit: sec.audit };
}

function plain(html: string): string {
  return html
    .replace(/<mark>/g, '【')
    .replace(/<\/mark>/g, '】')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** 联合检索 from the console: this office (under the user's access rule) and every joined office's shared index. */
async function federatedSearch(cfg: Config, svc: SearchService, audit: AuditLog, viewer: Viewer, user: string, query: string, limit: number, json: boolean): Promise<void> {
  const self = officeOf(cfg);
  const remotes = (await listPeers(cfg.dataDir)).peers.map((p) => ({ code: p.code, name: p.name }));
  const offices = [self.code, ...remotes.map((r) => r.code)];
  const r = await consoleAudited(audit, 'item.search', user, async () => {
    const result = await svc.searchFederated(viewer, { q: query, limit }, { self, remotes });
    return { result, details: { q: query, federated: true, offices, failed: result.failed.map((f) => f.code), total: result.total, items: result.items.map((i) => `${i.office}:${i.itemId}`) } };
  });
  const unanswered = r.failed.length ? `${r.failed.length} 个单位未响应：${r.failed.map((f) => f.name).join('、')}` : '';
  if (json) {
    for (const i of r.items)
      process.stdout.write(
        `${JSON.stringify({ office: i.office, officeName: i.officeName, local: i.local, itemId: i.itemId, archivalCode: i.archivalCode, title: i.title, pages: i.pages, snippet: i.snippet })}\n`,
      );
    if (unanswered) process.stderr.write(`${unanswered}\n`);
    return;
  }
  const estimated = r.approximate ? `（${r.approximateOfficeNames?.join('、') || '部分单位'}的件数为检索引擎的估计）` : '';
  process.stdout.write(`联合检索 ${offices.length} 个单位，共 ${r.total} 件${estimated}${unanswered ? `；${unanswered}` : ''}\n`);
  for (const i of r.items) {
    const where = i.pages.length ? `第 ${i.pages.join('、')} 页` : '命中著录信息';
    const holder = i.local ? '本单位' : `由 ${i.officeName} 保管`;
    process.stdout.write(`[${holder}] ${i.archivalCode ?? i.itemId}  ${i.title ?? ''}  ${where}\n    ${plain(i.snippet)}\n`);
  }
}

export function registerSearch(program: Command): void {
  program
    // Words typed without quotes (archive search 档案 管理 …) are the same query as "档案 管理".
    .command('search <query...>')
    .description('以某用户的岗位与密级检索档案（空格分隔的词须全部出现）\nsearch the archive as a user sees it (space-separated words must all occur)')
    .requiredOption('--user <name>', '以此用户身份检索 search as this user')
    .option('--limit <n>', '最多显示条数 max items (1-100)', '20')
    .option('--federated', '联合检索：同时检索已加入单位共享的档案 also search what joined offices share')
    .option('--exact', '长检索词命中较多时也精确统计件数（较慢） count a long term exactly however many items hold it (slower)')
    .action(
      action(async (words: string[], opts: { user: string; limit: string; federated?: boolean; exact?: boolean }, cmd: Command) => {
        const query = words.join(' ');
        const cfg = configFor(cmd);
        const json = Boolean(globalOptions(cmd).json);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new ApplianceError('USAGE', '--limit 须为 1 到 100 的整数。', 'bad --limit');
        const { viewer, audit } = await viewerOf(cfg, opts.user);
        const meili = await consoleServices(cfg);
        try {
          const svc = createSearchService(meili.conn, cfg.dataDir);
          if (opts.federated) {
            await federatedSearch(cfg, svc, audit, viewer, opts.user, query, limit, json);
            return;
          }
          const r = await consoleAudited(audit, 'item.search', opts.user, async () => {
            const result = await svc.search(viewer, { q: query, limit, exact: Boolean(opts.exact) });
            return { result, details: { q: query, total: result.total, ...(opts.exact ? { exact: true } : {}), items: result.items.map((i) => i.itemId) } };
          });
          if (json) {
            for (const i of r.items) process.stdout.write(`${JSON.stringify({ itemId: i.itemId, archivalCode: i.archivalCode, title: i.title, pages: i.pages, snippet: i.snippet })}\n`);
          } else {
            process.stdout.write(
              `共 ${r.total} 件${r.approximate ? `（件数为检索引擎的估计，列出的每件都已核对含该词${opts.exact ? '' : '；加 --exact 精确统计'}）` : ''}${r.ignored.length ? `（忽略单字：${r.ignored.join(' ')}）` : ''}${r.total ? '' : `。${opts.user} 可查阅的档案中没有同时含这些词的；可换用其他词或减少词数`}\n`,
            );
            for (const i of r.items) {
              // No page: the words matched the catalogue data (档号, 题名, 年度 …), not the scanned text.
              const where = i.pages.length ? `第 ${i.pages.join('、')} 页` : '命中著录信息';
              process.stdout.write(`${i.archivalCode ?? i.itemId}  ${i.title ?? ''}  ${where}\n    ${plain(i.snippet)}\n`);
            }
          }
        } finally {
          await meili.release();
        }
      }),
    );
}
