// federation/: 联合检索 across offices. This half: what is shared (sharing scopes within the
// secadmin's policy) and the shared index that peers search. Others import from here only.
export { SharedIndex, SHARING_NARROWING_DEADLINE_MS, RECONCILE_INTERVAL_MS, type ItemSharingStatus, type ReconcileReport, type SharedItemSource } from './shared-index.ts';
export { DEFAULT_SHARING_POLICY, NOT_SHARED_ZH, effectiveScope, policyAllows, readSharingPolicy, scopeReach, sharingPolicyBody, type NotSharedReason, type SharingPolicy } from './sharing-policy.ts';
