// Linkerd's authorization resources (policy.linkerd.io) as read, before the snapshot resolves them into AuthorizationPolicies.
import type { Labels } from './types.ts';

/** A mesh identity Linkerd names: any authenticated client, or a ServiceAccount (`*`: every one of the namespace). */
export type LinkerdIdentity =
  | { kind: 'any' }
  | { kind: 'serviceAccount'; namespace: string; serviceAccount: string };

/** A client network: `cidr` minus the `except` blocks. */
export interface LinkerdNetwork {
  cidr: string;
  except: readonly string[];
}

/** What a Server admits besides its authorizations (the ones weft enforces); `audit`: refusals are only counted. */
export type LinkerdAccessPolicy = 'deny' | 'all-unauthenticated' | 'all-authenticated' | 'audit';

/** A Server: one port of the workloads its pod selector matches. */
export interface LinkerdServerModel {
  name: string;
  namespace: string;
  /** The Server resource's own labels (ServerAuthorization `server.selector` matches them). */
  labels: Labels;
  /** `podSelector.matchLabels`: the workloads. */
  selector: Labels;
  /** The workload (app) port, or its name (a sidecar's `--app-port-name`). */
  port: number | string;
  accessPolicy: LinkerdAccessPolicy;
}

/** A MeshTLSAuthentication: clients with one of these verified identities. */
export interface MeshTlsAuthenticationModel {
  name: string;
  namespace: string;
  identities: readonly LinkerdIdentity[];
}

/** A NetworkAuthentication: clients whose address is in one of these networks. */
export interface NetworkAuthenticationModel {
  name: string;
  namespace: string;
  networks: readonly LinkerdNetwork[];
}

/** A Linkerd AuthorizationPolicy (v1alpha1): every required authentication must hold. */
export interface LinkerdAuthorizationPolicyModel {
  name: string;
  namespace: string;
  /** A Server of the namespace, or every Server of the namespace. */
  target: { kind: 'Server'; name: string } | { kind: 'Namespace' };
  /** MeshTLSAuthentication and NetworkAuthentication resources, by namespace and name; `at`: their index in `requiredAuthenticationRefs`. */
  authentications: readonly {
    kind: 'MeshTLSAuthentication' | 'NetworkAuthentication';
    namespace: string;
    name: string;
    at: number;
  }[];
  /** ServiceAccounts named directly: the client must be one of them. */
  serviceAccounts: readonly LinkerdIdentity[];
}

/** A ServerAuthorization (v1beta1, deprecated): clients of Servers, by identity and network. */
export interface ServerAuthorizationModel {
  name: string;
  namespace: string;
  /** The Server by name, or the Servers whose labels match. */
  server: { name: string } | { selector: Labels };
  /** Absent: unauthenticated clients too (`client.unauthenticated`). */
  identities?: readonly LinkerdIdentity[];
  /** Absent: any address. */
  networks?: readonly LinkerdNetwork[];
}

/** One Linkerd resource as compiled (the snapshot assembles them all into AuthorizationPolicies). */
export type LinkerdAuthorizationPart =
  | { kind: 'Server'; server: LinkerdServerModel }
  | { kind: 'MeshTLSAuthentication'; meshTls: MeshTlsAuthenticationModel }
  | { kind: 'NetworkAuthentication'; network: NetworkAuthenticationModel }
  | { kind: 'LinkerdAuthorizationPolicy'; policy: LinkerdAuthorizationPolicyModel }
  | { kind: 'ServerAuthorization'; serverAuthorization: ServerAuthorizationModel };
