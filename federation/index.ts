// federation/: 联合检索 across offices. This half: what is shared (sharing scopes within the
// secadmin's policy) and the shared index that peers search. Others import from here only.
export { SharedIndex, SHARING_NARROWING_DEADLINE_MS, RECONCILE_INTERVAL_MS, type ItemSharingStatus, type ReconcileReport, type SharedItemSource } from './shared-index.ts';
export { DEFAULT_SHARING_POLICY, NOT_SHARED_ZH, effectiveScope, policyAllows, readSharingPolicy, scopeReach, sharingPolicyBody, type NotSharedReason, type SharingPolicy } from './sharing-policy.ts';
// The transport (offices, certificates, signed invitations, peers and their keys, the mutual-TLS
// endpoint, the loopback relay that Meilisearch's /network points at).
export { startFederation, type FederationService, type FederationDeps } from './service.ts';
export { invite, join, removePeer, listPeers, officeOf, federationIdentity, type OfficeIdentity, type JoinResult } from './membership.ts';
export { checkInvitationFile, parseRelation, RELATION_ZH, type Relation } from './invitation.ts';
export { peerFilter } from './peer-keys.ts';
export type { PeerState } from './relay.ts';
