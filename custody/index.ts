// custody/: (describe the room)
export { integrityLatestPath, runIntegrityCheck, ITEM_STATUS_ZH, type IntegrityReport } from './integrity.ts';
export { listBackupRecords } from './backup-records.ts';
export { addRecipient, listRecipients, localSignerKey, assertPassphrase, generateIdentity, loadOrCreateSigningKey, openIdentity, signerRaw } from './backup-keys.ts';
export { assertBackupTarget, createBackup, noRecipients, type BackupProgress } from './backup.ts';
export { backupScheduleStatus, backupHealth, scheduleBackups } from './backup-schedule.ts';
export { verifyBackupStructure } from './backup-structure.ts';
export { SIGNATURE_EXTS, importSignatures } from './signatures.ts';
export { restoreBackup } from './backup-restore.ts';
export { verifyBackup } from './backup-verify.ts';
export { type BackupOpenKey } from './backup-crypto.ts';
export { scheduleIntegrityCheck } from './integrity-schedule.ts';
