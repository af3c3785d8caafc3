// security/: identities, posts, roles, sessions, the audit trail, the ClamAV client, backup
// encryption, integrity verification and the isolation self-check. Others import from here only.
export { clamdHealth, SIGNATURE_MAX_AGE_DAYS, type ClamdHealth } from './clamd-health.ts';
export { clamdCommand } from './clamd-address.ts';
export { canSee, classificationRank, type Viewer } from './access.ts';
export { scanFile, scanStream, parseInstreamReply, isScanError, isRetryableScanError, SCAN_ERROR_CODES, type ScanErrorCode, type ScanVerdict, type ScanOptions } from './clamav.ts';
export { assertScannerReady, clamdSignatures, parseClamdVersion, type SignatureStatus } from './clamd-signatures.ts';
export { createAuth, type Auth, type AuthOptions, type RequestAuditEntry } from './auth.ts';
export { publicRoute, requireSession, requirePermission, currentUser, currentViewer, type AuthContext, type RoutePolicy } from './authorize.ts';
export { AuditLog, type AuditHead } from './audit-log.ts';
export { verifyAudit, exportAudit, exportRange, type AuditVerifyResult } from './audit-verify.ts';
export type { AuditEntry, AuditRecord, AuditOutcome } from './audit-record.ts';
export { IdentityStore, type UserRecord, type PostRecord, type PublicUser } from './identity-store.ts';
export { ROLES, ROLE_NAMES, ADMIN_ROLES, PERMISSIONS, ROLE_PERMISSIONS, can, parseRole, type Role, type Permission } from './roles.ts';
export { argon2Hasher, ARGON2_PARAMS, passwordProblems, type PasswordHasher } from './passwords.ts';
export { openSecurity, consoleActor, type SecurityStores } from './stores.ts';
export { readJson } from './http-body.ts';
export { selfcheck, type SelfcheckInputs, type SelfcheckReport, type CheckResult, type CheckStatus, type ProbeHealth } from './selfcheck.ts';
export { assertBackupTarget, createBackup, type BackupResult, type BackupProgress, type CreateBackupOptions } from './backup.ts';
export { verifyBackup, verifyBackupFile, type VerifiedBackup } from './backup-verify.ts';
export { restoreBackup, reindexRestored, type RestoreOptions, type RestoreResult } from './backup-restore.ts';
export { readKeyFile, readBackupHeader, newBackupHeader, BACKUP_KDF, CHUNK_SIZE, type BackupKeySource, type BackupHeaderInfo } from './backup-crypto.ts';
export { SealedFileWriter } from './backup-stream.ts';
export { listBackupRecords, type BackupRecord } from './backup-records.ts';
export { runIntegrityCheck, seriesGaps, integrityLatestPath, type IntegrityReport, type IntegrityOptions, type ItemCheck, type ItemStatus } from './integrity.ts';
export { scheduleIntegrityCheck, startDaily, msUntilHour, type DailySchedule } from './integrity-schedule.ts';
export { importSignatures, SIGNATURE_EXTS, type SignatureImportOptions, type SignatureImportResult, type SignatureFileInfo } from './signatures.ts';
export { roleLabel } from './roles.ts';
export { setupTokenNotice } from './setup-token.ts';
