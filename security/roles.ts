import { ApplianceError } from '../core/index.ts';

export const ROLES = ['staff', 'archivist', 'sysadmin', 'secadmin', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_NAMES: Record<Role, string> = {
  staff: '查阅人员',
  archivist: '档案员',
  sysadmin: '系统管理员',
  secadmin: '安全保密管理员',
  auditor: '安全审计员',
};

/** 三员: separate people; one account holds at most one of these, and nothing else. */
export const ADMIN_ROLES: readonly Role[] = ['sysadmin', 'secadmin', 'auditor'];

export const PERMISSIONS = [
  'item:search',
  'item:read',
  'item:ingest',
  'item:edit',
  'user:list',
  'user:create',
  'user:disable',
  'user:password-reset',
  'user:roles',
  'user:access',
  'user:unlock',
  'user:confirm-reset',
  'post:list',
  'post:manage',
  'service:manage',
  'config:manage',
  'backup:run',
  'backup:restore',
  'backup:recipients',
  'signature:import',
  'integrity:check',
  'quarantine:review',
  'sharing:policy',
  'audit:read',
  'audit:export',
  'audit:verify',
  'audit:key',
  'grant:staff',
  'grant:archivist',
  'grant:sysadmin',
  'grant:secadmin',
  'grant:auditor',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * Role → permissions. Nobody may write or delete audit records (there is no such permission);
 * the three administrators hold no item permission, so they can neither search nor read archives.
 * Archivists search and read (under the same post/clearance rule as staff) because they must see
 * what they ingest to check it and fix its metadata.
 * Granting follows 三员: the system administrator makes accounts and gives working roles
 * (staff, archivist, sysadmin); the security administrator alone sets posts and clearances and
 * gives the secadmin role; only an auditor gives the auditor role (audit reading).
 */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  staff: ['item:search', 'item:read'],
  archivist: ['item:search', 'item:read', 'item:ingest', 'item:edit'],
  sysadmin: [
    'user:list',
    'user:create',
    'user:disable',
    'user:password-reset',
    'user:unlock',
    'user:roles',
    'post:list',
    'service:manage',
    'config:manage',
    'backup:run',
    'backup:restore',
    'grant:staff',
    'grant:archivist',
    'grant:sysadmin',
  ],
  secadmin: [
    'user:list',
    'user:roles',
    'user:access',
    'user:confirm-reset',
    'post:list',
    'post:manage',
    'signature:import',
    'integrity:check',
    'quarantine:review',
    'sharing:policy',
    'backup:recipients',
    'grant:secadmin',
  ],
  auditor: ['user:list', 'user:roles', 'post:list', 'audit:read', 'audit:export', 'audit:verify', 'audit:key', 'grant:auditor'],
};

export function permissionsOf(roles: readonly Role[]): Set<Permission> {
  return new Set(roles.flatMap((r) => ROLE_PERMISSIONS[r]));
}

/** Permissions that reach archived items: held back while a password reset awaits the secadmin. */
export const ITEM_PERMISSIONS: readonly Permission[] = ['item:search', 'item:read', 'item:ingest', 'item:edit'];

/**
 * What an account may do now: its roles' permissions, less every item permission while a reset
 * by an administrator is not yet confirmed by the 安全保密管理员 or the owner has not yet set
 * their own password after it.
 */
export function effectivePermissions(u: { roles: readonly Role[]; resetPending?: unknown }): Set<Permission> {
  const p = permissionsOf(u.roles);
  if (u.resetPending) for (const x of ITEM_PERMISSIONS) p.delete(x);
  return p;
}

export function can(roles: readonly Role[], p: Permission): boolean {
  return roles.some((r) => ROLE_PERMISSIONS[r].includes(p));
}

export function grantPermission(role: Role): Permission {
  return `grant:${role}` as Permission;
}

/** `staff` or `查阅人员` (console and API accept either). */
export function parseRole(s: string): Role {
  const t = s.trim();
  const byCode = ROLES.find((r) => r === t.toLowerCase());
  const byName = ROLES.find((r) => ROLE_NAMES[r] === t);
  const role = byCode ?? byName;
  if (!role) {
    throw new ApplianceError('ROLE_UNKNOWN', `未知角色：${s}。可用：${ROLES.map((r) => `${r}（${ROLE_NAMES[r]}）`).join('、')}`, `unknown role ${s}`);
  }
  return role;
}

/** A valid role set: at least one role, and an administrator role only alone. */
export function assertRoleSet(roles: readonly Role[]): void {
  const admin = roles.filter((r) => ADMIN_ROLES.includes(r));
  if (admin.length > 1 || (admin.length === 1 && roles.length > 1)) {
    throw new ApplianceError(
      'ADMIN_ROLE_CONFLICT',
      `三员分立：一个账户只能担任一个管理员角色，且不能兼任查阅人员或档案员（${roles.map((r) => ROLE_NAMES[r]).join('、')}）。`,
      `an account holds at most one administrator role and nothing else: ${roles.join(',')}`,
    );
  }
}

export function roleLabel(roles: readonly Role[]): string {
  return roles.length ? roles.join('+') : '-';
}
