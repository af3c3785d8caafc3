// core/: (describe the room)
export { ApplianceError, isApplianceError } from './errors.ts';
export {
  RETENTIONS,
  SHARING_SCOPES,
  SHARING_SCOPE_LABELS,
  sharingScopeOf,
  type SharingScope,
  type Retention,
  type Box,
  type OcrSymbol,
  type OcrWord,
  type OcrLine,
  type PageText,
  type ItemMetadata,
} from './item.ts';
export { CLASSIFICATIONS, parseHostPort, loadConfig, PINNED_MEILI_SHA256, type Classification, type Config } from './config.ts';
export { classificationRank, canSee, type Viewer } from './access.ts';
export { log, createLogger, type Logger } from './log.ts';
export { fsyncDir, pathExists, writeFileAtomic, sha256File, fileDigest } from './files.ts';
export { pidAlive, runningAppliance, acquireRunLock } from './run-lock.ts';
export { inLanes } from './concurrency.ts';
export { dataPath, ensureDataDir, RESTORE_INCOMPLETE } from './data-dir.ts';
export { assertRoomForWork, diskHealth } from './disk.ts';
export { type MeiliConnection } from './meili-connection.ts';
export { readProcessActivity, activityAdvanced, ActivityMeter, type ProcessActivity } from './process-activity.ts';
export { withFileLock } from './file-lock.ts';
export { healthReport, type ComponentHealth, type HealthReport } from './health.ts';
export { FORMAT_VERSIONS, checkFormatVersion, type VersionedFormat } from './format-version.ts';
export { OFFICE_CODE_RE } from './config.ts';
