// appliance/: configuration, logging, errors and the services the appliance owns. The base layer
// every other folder may use; its CLI and server are the composition root that wires them.
export { loadConfig, defaultConfig, parseHostPort, CLASSIFICATIONS, PINNED_MEILI_SHA256, type Config, type Classification } from './config.ts';
export { ApplianceError, isApplianceError } from './errors.ts';
export { log, createLogger, type Logger } from './log.ts';
export { fileDigest, sha256File, pathExists, writeFileAtomic, fsyncDir } from './files.ts';
export { ensureDataDir, dataPath, DATA_SUBDIRS } from './data-dir.ts';
export type { MeiliConnection } from './meili-connection.ts';
export type { ComponentHealth, ComponentStatus } from './health.ts';
export type { HealthReport } from './health.ts';
