import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { CLASSIFICATIONS, type Classification, ApplianceError, writeFileAtomic, withFileLock } from '../core/index.ts';
import { ADMIN_ROLES, ROLE_NAMES, ROLES, assertRoleSet, type Role } from './roles.ts';

export interface UserRecord {
  id: string;
  username: string;
  displayName: string;
  roles: Role[];
  posts: string[];
  clearance: Classification;
  passwordHash: string;
  mustChangePassword: boolean;
  disabled: boolean;
  /**
   * True once the owner set their own password (first-start setup, or a change at login); false
   * while the password is one an administrator chose. Only such an account may be given the
   * secadmin or auditor role, so a sysadmin cannot make an officer whose password they know.
   * Absent in stores written before this field: treated as !mustChangePassword.
   */
  ownPassword?: boolean;
  /**
   * Set when an administrator (not the owner) set the password: the account may log in to set its
   * own, but holds no item access until the 安全保密管理员 confirms the reset (no silent takeover).
   */
  resetPending?: { by: string; at: string } | null;
  /** Posts beyond their own that the 安全保密管理员 lets an archivist file items into. */
  filingPosts?: string[];
  /** Bumped whenever roles, posts, clearance, password or enabled state change: sessions carry it. */
  stamp: number;
  createdAt: string;
  updatedAt: string;
}

export interface PostRecord {
  code: string;
  name: string;
  department: string;
  createdAt: string;
  /** A disabled post is kept (items may use it) but cannot be given to new items or edits. */
  disabled?: boolean;
}

/** Whether the owner has set their own password (see UserRecord.ownPassword). */
export function hasOwnPassword(u: Pick<UserRecord, 'ownPassword' | 'mustChangePassword'>): boolean {
  return u.ownPassword ?? !u.mustChangePassword;
}

/** Roles that may be given only to an account whose owner set their own password. */
const OWN_PASSWORD_ROLES: readonly Role[] = ['secadmin', 'auditor'];

export interface IdentityData {
  version: 1;
  users: UserRecord[];
  posts: PostRecord[];
}

/** A user as shown to people and written to logs: never the password hash. */
export type PublicUser = Omit<UserRecord, 'passwordHash'>;

export function publicUser(u: UserRecord): PublicUser {
  const { passwordHash: _h, ...rest } = u;
  return rest;
}

const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$/;
const POST_CODE_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
const RESERVED = new Set(['console', 'system', 'anonymous', '-']);

export function normalizeUsername(name: string): string {
  return name.trim().toLowerCase();
}

/**
 * lowdb adapter that makes each write durable (lowdb's own writer renames without fsync): temp
 * file, fsync, rename, fsync the directory. A file that does not parse stops the appliance from
 * using it (fail closed) rather than being replaced by an empty store.
 */
class DurableJsonFile implements Adapter<IdentityData> {
  constructor(private readonly path: string) {}
  async read(): Promise<IdentityData | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      const d = JSON.parse(text) as IdentityData;
      if (d.version !== 1 || !Array.isArray(d.users) || !Array.isArray(d.posts)) throw new Error('unexpected shape');
      return d;
    } catch (e) {
      throw new ApplianceError('IDENTITY_STORE_CORRUPT', `用户库文件已损坏，无法读取：${this.path}（${(e as Error).message}）。请从备份恢复。`, `identity store unreadable: ${this.path}`, {
        status: 503,
      });
    }
  }
  async write(data: IdentityData): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(data, null, 2)}\n`);
  }
}

export interface NewUser {
  username: string;
  displayName?: string;
  roles: Role[];
  posts?: string[];
  clearance?: Classification;
  passwordHash: string;
  mustChangePassword: boolean;
  /** The owner chose this password (setup, or the owner at the console); default !mustChangePassword. */
  ownPassword?: boolean;
}

/** Who set a password: the owner, or an administrator (web sysadmin or console) for someone else. */
export type PasswordSetter = { kind: 'owner' } | { kind: 'admin'; by: string };

/**
 * Users and posts in data/config/identity.json (lowdb). Several processes may use it: the
 * server and console commands. Every change takes data/config/.identity.lock, re-reads the file,
 * checks its rules against the fresh data and writes atomically, so no change is lost to another
 * process. Reads re-load the file when its inode changed (every write is a rename), so a user the
 * console disables is seen as disabled by the running server on its next request.
 */
export class IdentityStore {
  private readonly db: Low<IdentityData>;
  private readonly path: string;
  private readonly lockPath: string;
  private loadedIno = -1;
  private loadedMtime = -1;
  private readonly now: () => Date;

  private constructor(configDir: string, now: () => Date) {
    this.path = join(configDir, 'identity.json');
    this.lockPath = join(configDir, '.identity.lock');
    this.db = new Low<IdentityData>(new DurableJsonFile(this.path), { version: 1, users: [], posts: [] });
    this.now = now;
  }

  static async open(configDir: string, opts: { now?: () => Date } = {}): Promise<IdentityStore> {
    const s = new IdentityStore(configDir, opts.now ?? (() => new Date()));
    await s.refresh(true);
    return s;
  }

  private async refresh(force = false): Promise<void> {
    // Synchronous: one stat is cheaper than a trip through the thread pool, paid on every signed-in
    // request (the route guard looks the user up each time).
    const st = statSync(this.path, { throwIfNoEntry: false });
    const ino = st?.ino ?? 0;
    const mtime = st?.mtimeMs ?? 0;
    if (!force && ino === this.loadedIno && mtime === this.loadedMtime) return;
    await this.db.read();
    this.loadedIno = ino;
    this.loadedMtime = mtime;
  }

  private async change<T>(fn: (d: IdentityData) => T): Promise<T> {
    return withFileLock(this.lockPath, async () => {
      await this.refresh(true);
      // Work on a copy: a rule that throws half-way leaves the store as it was.
      const draft = structuredClone(this.db.data);
      const out = fn(draft);
      this.db.data = draft;
      await this.db.write();
      const st = await stat(this.path);
      this.loadedIno = st.ino;
      this.loadedMtime = st.mtimeMs;
      return out;
    });
  }

  async users(): Promise<UserRecord[]> {
    await this.refresh();
    return structuredClone(this.db.data.users);
  }

  async posts(): Promise<PostRecord[]> {
    await this.refresh();
    return structuredClone(this.db.data.posts);
  }

  async findUser(username: string): Promise<UserRecord | undefined> {
    await this.refresh();
    const n = normalizeUsername(username);
    const u = this.db.data.users.find((x) => x.username === n);
    return u && structuredClone(u);
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    await this.refresh();
    const u = this.db.data.users.find((x) => x.id === id);
    return u && structuredClone(u);
  }

  /** Administrator roles no enabled account holds yet (first-start setup is done when empty). */
  async vacantAdminRoles(): Promise<Role[]> {
    await this.refresh();
    return vacant(this.db.data);
  }

  async createUser(nu: NewUser, opts: { requireVacantAdminRole?: boolean } = {}): Promise<UserRecord> {
    return this.change((d) => {
      const username = normalizeUsername(nu.username);
      if (!USERNAME_RE.test(username) || RESERVED.has(username)) {
        throw new ApplianceError('USERNAME_INVALID', `用户名不合规：${nu.username}（2–32 个字母、数字或 . _ -，以字母或数字开头，且不能是保留名）。`, `invalid username ${nu.username}`);
      }
      if (d.users.some((u) => u.username === username)) throw new ApplianceError('USER_EXISTS', `用户已存在：${username}`, `user exists: ${username}`, { status: 409 });
      assertRoleSet(nu.roles);
      if (opts.requireVacantAdminRole) {
        const v = vacant(d);
        if (nu.roles.length !== 1 || !v.includes(nu.roles[0])) {
          throw new ApplianceError(
            'SETUP_ROLE_TAKEN',
            `初始设置只能创建尚无人担任的管理员角色（尚缺：${v.map((r) => ROLE_NAMES[r]).join('、') || '无'}）。`,
            `setup may only create a vacant administrator role`,
            { status: 409 },
          );
        }
      }
      const posts = checkPosts(d, nu.posts ?? []);
      const clearance = checkClearance(nu.clearance ?? '公开');
      const t = this.now().toISOString();
      const user: UserRecord = {
        id: randomUUID(),
        username,
        displayName: (nu.displayName ?? '').trim().slice(0, 64),
        roles: [...new Set(nu.roles)],
        posts,
        clearance,
        passwordHash: nu.passwordHash,
        mustChangePassword: nu.mustChangePassword,
        ownPassword: nu.ownPassword ?? !nu.mustChangePassword,
        disabled: false,
        stamp: 1,
        createdAt: t,
        updatedAt: t,
      };
      assertOwnPasswordForRoles(user, user.roles);
      d.users.push(user);
      return structuredClone(user);
    });
  }

  async setRoles(username: string, roles: Role[]): Promise<{ before: Role[]; user: UserRecord }> {
    return this.updateUser(username, (u) => {
      assertRoleSet(roles);
      assertOwnPasswordForRoles(
        u,
        roles.filter((r) => !u.roles.includes(r)),
      );
      const before = u.roles;
      u.roles = [...new Set(roles)];
      return before;
    });
  }

  async setAccess(
    username: string,
    change: { posts?: string[]; clearance?: Classification; filingPosts?: string[]; ceiling?: Classification },
  ): Promise<{ before: { posts: string[]; clearance: Classification; filingPosts?: string[] }; user: UserRecord }> {
    return this.updateUserWith(username, (u, d) => {
      // Filing posts appear in the record only where they matter (granted before, or now).
      const before = { posts: u.posts, clearance: u.clearance, ...(u.filingPosts?.length || change.filingPosts ? { filingPosts: u.filingPosts ?? [] } : {}) };
      // Posts already held may stay when disabled; a disabled post is never newly given.
      if (change.posts) u.posts = checkPosts(d, change.posts, u.posts);
      if (change.filingPosts) u.filingPosts = checkPosts(d, change.filingPosts, u.filingPosts ?? []);
      if (change.clearance) {
        const c = checkClearance(change.clearance);
        if (change.ceiling && CLASSIFICATIONS.indexOf(c) > CLASSIFICATIONS.indexOf(change.ceiling)) {
          throw new ApplianceError(
            'CLEARANCE_ABOVE_CEILING',
            `密级“${c}”高于本机允许的最高密级“${change.ceiling}”：本机不存放该密级的档案，不能授予。`,
            `clearance ${c} above ceiling ${change.ceiling}`,
          );
        }
        u.clearance = c;
      }
      return before;
    });
  }

  /**
   * A new password. Set by the owner it is theirs (ownPassword, any pending reset stays pending
   * until the secadmin confirms it). Set by an administrator for someone else, the owner must
   * change it at next login and the account's item access waits for the secadmin's confirmation.
   */
  async setPassword(username: string, passwordHash: string, mustChangePassword: boolean, setter: PasswordSetter = { kind: 'owner' }): Promise<{ user: UserRecord }> {
    const r = await this.updateUser(username, (u) => {
      u.passwordHash = passwordHash;
      u.mustChangePassword = mustChangePassword;
      if (setter.kind === 'owner') {
        u.ownPassword = true;
      } else {
        u.ownPassword = false;
        u.resetPending = { by: setter.by, at: this.now().toISOString() };
      }
    });
    return { user: r.user };
  }

  /** The secadmin confirms a reset: the account's item access returns (its session goes on). */
  async confirmReset(username: string): Promise<{ before: { by: string; at: string }; user: UserRecord }> {
    return this.updateUserWith(
      username,
      (u) => {
        if (!u.resetPending) throw new ApplianceError('NO_RESET_PENDING', `用户 ${u.username} 没有待确认的密码重置。`, `no pending reset for ${u.username}`, { status: 409 });
        const before = u.resetPending;
        u.resetPending = null;
        return before;
      },
      { keepSessions: true },
    );
  }

  async setDisabled(username: string, disabled: boolean): Promise<{ user: UserRecord }> {
    const r = await this.updateUser(username, (u) => {
      u.disabled = disabled;
    });
    return { user: r.user };
  }

  async createPost(p: { code: string; name: string; department?: string }): Promise<PostRecord> {
    return this.change((d) => {
      const code = p.code.trim();
      if (!POST_CODE_RE.test(code)) throw new ApplianceError('POST_CODE_INVALID', `岗位代码不合规：${p.code}（1–32 个字母、数字、_ 或 -）。`, `invalid post code ${p.code}`);
      const name = p.name.trim();
      if (!name || [...name].length > 64) throw new ApplianceError('POST_NAME_INVALID', '岗位名称不能为空，且不超过 64 个字符。', 'invalid post name');
      if (d.posts.some((x) => x.code.toLowerCase() === code.toLowerCase())) throw new ApplianceError('POST_EXISTS', `岗位代码已存在：${code}`, `post exists: ${code}`, { status: 409 });
      const post: PostRecord = { code, name, department: (p.department ?? '').trim().slice(0, 64), createdAt: this.now().toISOString() };
      d.posts.push(post);
      return { ...post };
    });
  }

  /** Rename a post or disable/enable it. Posts are never deleted: items and accounts may name them. */
  async updatePost(code: string, change: { name?: string; department?: string; disabled?: boolean }): Promise<{ before: PostRecord; post: PostRecord }> {
    return this.change((d) => {
      const p = d.posts.find((x) => x.code === code);
      if (!p) throw new ApplianceError('POST_NOT_FOUND', `岗位不存在：${code}`, `no such post: ${code}`, { status: 404 });
      const before = { ...p };
      if (change.name !== undefined) {
        const name = change.name.trim();
        if (!name || [...name].length > 64) throw new ApplianceError('POST_NAME_INVALID', '岗位名称不能为空，且不超过 64 个字符。', 'invalid post name');
        p.name = name;
      }
      if (change.department !== undefined) p.department = change.department.trim().slice(0, 64);
      if (change.disabled !== undefined) p.disabled = change.disabled;
      return { before, post: { ...p } };
    });
  }

  private updateUser<T>(username: string, fn: (u: UserRecord) => T): Promise<{ before: T; user: UserRecord }> {
    return this.updateUserWith(username, (u) => fn(u));
  }

  private updateUserWith<T>(username: string, fn: (u: UserRecord, d: IdentityData) => T, opts: { keepSessions?: boolean } = {}): Promise<{ before: T; user: UserRecord }> {
    return this.change((d) => {
      const n = normalizeUsername(username);
      const u = d.users.find((x) => x.username === n);
      if (!u) throw new ApplianceError('USER_NOT_FOUND', `用户不存在：${username}`, `no such user: ${username}`, { status: 404 });
      const before = structuredClone(fn(u, d));
      if (!opts.keepSessions) u.stamp += 1;
      u.updatedAt = this.now().toISOString();
      return { before, user: structuredClone(u) };
    });
  }
}

function vacant(d: IdentityData): Role[] {
  return ADMIN_ROLES.filter((r) => !d.users.some((u) => !u.disabled && u.roles.includes(r)));
}

function checkPosts(d: IdentityData, posts: string[], held: readonly string[] = []): string[] {
  const out = [...new Set(posts.map((p) => p.trim()).filter(Boolean))];
  const unknown = out.filter((p) => !d.posts.some((x) => x.code === p));
  if (unknown.length) throw new ApplianceError('POST_UNKNOWN', `岗位不存在：${unknown.join('、')}。请先由安全保密管理员创建岗位。`, `unknown post(s): ${unknown.join(',')}`);
  const disabled = out.filter((p) => !held.includes(p) && d.posts.some((x) => x.code === p && x.disabled));
  if (disabled.length) throw new ApplianceError('POST_DISABLED', `岗位已停用，不能再授予：${disabled.join('、')}。`, `disabled post(s): ${disabled.join(',')}`);
  return out;
}

function assertOwnPasswordForRoles(u: UserRecord, added: readonly Role[]): void {
  const officer = added.filter((r) => OWN_PASSWORD_ROLES.includes(r));
  if (officer.length && !hasOwnPassword(u)) {
    throw new ApplianceError(
      'OWN_PASSWORD_REQUIRED',
      `只能把${officer.map((r) => ROLE_NAMES[r]).join('、')}角色授予已由本人设置过密码的账户：账户 ${u.username} 的密码仍是管理员设置的，请本人先登录修改密码。`,
      `${officer.join(',')} only for an account whose owner set the password: ${u.username}`,
      { status: 409 },
    );
  }
}

export function checkClearance(c: string): Classification {
  if (!(CLASSIFICATIONS as readonly string[]).includes(c)) {
    throw new ApplianceError('CLEARANCE_INVALID', `密级不合规：${c}。可用：${CLASSIFICATIONS.join('、')}`, `invalid clearance ${c}`);
  }
  return c as Classification;
}

export { ROLES };
