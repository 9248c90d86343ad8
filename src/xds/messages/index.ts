// The typed Envoy v3 messages weft generates and reads, by resource type URL.
import type { TYPE_URL } from '../type-urls.ts';
import type { Cluster, ClusterLoadAssignment } from './cluster.ts';
import type { Listener } from './listener.ts';
import type { RouteConfiguration } from './route.ts';
import type { Secret } from './tls.ts';

export type * from './cluster.ts';
export type * from './core.ts';
export type * from './http-connection-manager.ts';
export type * from './http-filters.ts';
export type * from './listener.ts';
export type * from './route.ts';
export type * from './route-match.ts';
export type * from './tls.ts';

/** The message of each resource type weft serves. */
export interface ResourceMessages {
  [TYPE_URL.listener]: Listener;
  [TYPE_URL.route]: RouteConfiguration;
  [TYPE_URL.cluster]: Cluster;
  [TYPE_URL.endpoint]: ClusterLoadAssignment;
  [TYPE_URL.secret]: Secret;
}

/** A resource type URL weft serves. */
export type ResourceTypeUrl = keyof ResourceMessages;

/** Any resource message weft serves. */
export type ResourceMessage = ResourceMessages[ResourceTypeUrl];
