// security/: identities, posts, roles, sessions, the audit trail, the ClamAV client, backup
// encryption, integrity verification and the isolation self-check. Others import from here only.
export { clamdHealth, type ClamdHealth } from './clamd-health.ts';
export { clamdCommand } from './clamd-address.ts';
export { canSee, classificationRank, type Viewer } from './access.ts';
