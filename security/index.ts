// security/: identities, posts, roles, passwords, sessions, the sealed audit trail, the ClamAV
// client and the isolation self-check. No HTTP. Others import from here only.
export { clamdHealth, SIGNATURE_MAX_AGE_DAYS, type ClamdHealth } from './clamd-health.ts';
export { clamdCommand } from './clamd-address.ts';
export { scanFile, scanFileDigest, scanStream, isRetryableScanError } from './clamav.ts';
export { clamdSignatures, type SignatureStatus } from './clamd-signatures.ts';
export { AuditLog, type AuditHead } from './audit-log.ts';
export { verifyAudit, exportAudit, exportRange } from './audit-verify.ts';
export { parseVerificationKeys, pendingVerificationKey, eraseVerificationKey } from './audit-seal.ts';
export type { AuditEntry, AuditRecord } from './audit-record.ts';
export { IdentityStore, type UserRecord, type PublicUser } from './identity-store.ts';
export { ROLE_NAMES, ADMIN_ROLES, can, parseRole, type Role, type Permission } from './roles.ts';
export { argon2Hasher, passwordProblems, type PasswordHasher } from './passwords.ts';
export { openSecurity, consoleActor } from './open-security.ts';
export { selfcheck, type SelfcheckInputs, type SelfcheckReport } from './selfcheck.ts';
export { roleLabel } from './roles.ts';
export { setupTokenNotice } from './setup-token.ts';
export { auditFilterFrom, auditRecords, auditPage, summarizeAudit, type AuditFilter, type AuditSummary } from './audit-query.ts';
export { readDepartmentNames, departmentNamesCache, writeDepartmentNames, departmentNamesBody } from './departments.ts';
export { assertMayFile, type Filer } from './filing-rights.ts';
export { HEAD_FILE, LOCK_FILE } from './audit-log.ts';
export { VERIFICATION_KEY_FILE } from './audit-seal.ts';
export { normalizeUsername, publicUser } from './identity-store.ts';
export { assertPasswordPolicy } from './passwords.ts';
export { grantPermission, effectivePermissions, ITEM_PERMISSIONS, permissionsOf } from './roles.ts';
export { DenialFolder } from './audit-fold.ts';
export { Lockout, type LockoutOptions } from './lockout.ts';
export { SessionStore, type SessionOptions, type Session } from './sessions.ts';
export { SetupToken } from './setup-token.ts';

export type { ScanVerdict } from './clamav.ts';
