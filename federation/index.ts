// federation/: 联合检索 across offices — the transport. Office identity, federation certificates,
// signed invitations, peers and their keys, the mutual-TLS endpoint, the loopback relay that
// Meilisearch's /network points at. Others import from here only.
export { startFederation, type FederationService, type FederationDeps } from './service.ts';
export { invite, join, removePeer, listPeers, officeOf, federationIdentity, type OfficeIdentity, type JoinResult } from './membership.ts';
export { parseRelation, RELATION_ZH, type Relation } from './invitation.ts';
export { peerFilter, SHARED_INDEX } from './peer-keys.ts';
export type { PeerState } from './relay.ts';
