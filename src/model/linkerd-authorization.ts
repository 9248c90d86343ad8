// Linkerd Servers and their authorizations → one DENY AuthorizationPolicy per Server port (the RBAC Istio's policies compile to).
import { BlockList, isIPv6 } from 'node:net';
import { selectorMatches } from './labels.ts';
import type {
  LinkerdAuthorizationPart,
  LinkerdIdentity,
  LinkerdNetwork,
  LinkerdServerModel,
  MeshTlsAuthenticationModel,
  NetworkAuthenticationModel,
} from './linkerd-authorization-types.ts';
import { principalName } from './policies.ts';
import type { AuthorizationPolicyModel, AuthorizationSource } from './types.ts';

/** One thing a client must be: one of these identities, or in one of these networks. */
type Requirement = { identities: readonly LinkerdIdentity[] } | { networks: readonly LinkerdNetwork[] };

/** One authorization of a Server: every requirement must hold (none: any client). */
type Authorization = readonly Requirement[];

/** What a deny source may hold: the negated forms, and address blocks from `except` lists. */
type DenySource = Pick<AuthorizationSource, 'notPrincipals' | 'notIpBlocks' | 'ipBlocks'>;

/** `<address>/<bits>` of an address or CIDR block. */
function block(text: string): { address: string; bits: number; family: 'ipv4' | 'ipv6' } {
  const [address, bits] = text.split('/');
  const family = isIPv6(address) ? 'ipv6' : 'ipv4';
  return { address, bits: bits === undefined ? (family === 'ipv6' ? 128 : 32) : Number(bits), family };
}

/** Whether block `inner` lies within block `outer`. */
function within(inner: string, outer: string): boolean {
  const [i, o] = [block(inner), block(outer)];
  if (i.family !== o.family || i.bits < o.bits) return false;
  const list = new BlockList();
  list.addSubnet(o.address, o.bits, o.family);
  return list.check(i.address, i.family);
}

/** The blocks in both lists (each an OR of blocks); empty when they share no address. */
function intersect(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  for (const x of a)
    for (const y of b) {
      if (within(x, y)) out.push(x);
      else if (within(y, x)) out.push(y);
    }
  return [...new Set(out)];
}

/** Both sources at once, or undefined when no client can be both. */
function merge(a: DenySource, b: DenySource): DenySource | undefined {
  const out: DenySource = {};
  const notPrincipals = [...new Set([...(a.notPrincipals ?? []), ...(b.notPrincipals ?? [])])];
  const notIpBlocks = [...new Set([...(a.notIpBlocks ?? []), ...(b.notIpBlocks ?? [])])];
  if (notPrincipals.length > 0) out.notPrincipals = notPrincipals;
  if (notIpBlocks.length > 0) out.notIpBlocks = notIpBlocks;
  if (a.ipBlocks && b.ipBlocks) {
    const both = intersect(a.ipBlocks, b.ipBlocks);
    if (both.length === 0) return undefined;
    out.ipBlocks = both;
  } else if (a.ipBlocks || b.ipBlocks) out.ipBlocks = a.ipBlocks ?? b.ipBlocks;
  return out;
}

/** Every way of meeting one source of each list (a conjunction of disjunctions, multiplied out). */
function product(a: readonly DenySource[], b: readonly DenySource[]): DenySource[] {
  const out: DenySource[] = [];
  for (const x of a)
    for (const y of b) {
      const both = merge(x, y);
      if (both) out.push(both);
    }
  return out;
}

/** Weft principal patterns for Linkerd identities. */
function principals(identities: readonly LinkerdIdentity[], trustDomain: string): string[] {
  return identities.map((i) =>
    i.kind === 'any' ? '*' : principalName(trustDomain, i.namespace, i.serviceAccount),
  );
}

/** The clients a requirement refuses, as alternative sources. */
function unmet(requirement: Requirement, trustDomain: string): DenySource[] {
  if ('identities' in requirement)
    return [{ notPrincipals: principals(requirement.identities, trustDomain) }];
  // Outside every network: for each, outside its cidr or inside one of its exceptions.
  let out: DenySource[] = [{}];
  for (const network of requirement.networks) {
    const outside: DenySource[] = [{ notIpBlocks: [network.cidr] }];
    if (network.except.length > 0) outside.push({ ipBlocks: [...network.except] });
    out = product(out, outside);
  }
  return out;
}

/** The clients no authorization admits, as sources of a DENY rule; undefined when some authorization admits everyone. */
function denied(authorizations: readonly Authorization[], trustDomain: string): DenySource[] | undefined {
  let out: DenySource[] = [{}];
  for (const authorization of authorizations) {
    if (authorization.length === 0) return undefined;
    out = product(
      out,
      authorization.flatMap((r) => unmet(r, trustDomain)),
    );
  }
  return out;
}

/** The parts, sorted by kind (the snapshot keeps each kind oldest first). */
interface Parts {
  servers: LinkerdServerModel[];
  meshTls: Map<string, MeshTlsAuthenticationModel>;
  networks: Map<string, NetworkAuthenticationModel>;
  authorizations: Map<LinkerdServerModel, Authorization[]>;
}

function sortParts(parts: readonly LinkerdAuthorizationPart[]): Parts {
  const out: Parts = { servers: [], meshTls: new Map(), networks: new Map(), authorizations: new Map() };
  for (const part of parts) {
    if (part.kind === 'Server') out.servers.push(part.server);
    else if (part.kind === 'MeshTLSAuthentication')
      out.meshTls.set(`${part.meshTls.namespace}/${part.meshTls.name}`, part.meshTls);
    else if (part.kind === 'NetworkAuthentication')
      out.networks.set(`${part.network.namespace}/${part.network.name}`, part.network);
  }
  for (const server of out.servers) out.authorizations.set(server, []);
  return out;
}

/** A policy's requirements, or undefined when it names an authentication that does not exist (it admits no one). */
function policyRequirements(
  policy: Extract<LinkerdAuthorizationPart, { kind: 'LinkerdAuthorizationPolicy' }>['policy'],
  parts: Parts,
): Authorization | undefined {
  const requirements: Requirement[] = [];
  for (const ref of policy.authentications) {
    const key = `${ref.namespace}/${ref.name}`;
    if (ref.kind === 'MeshTLSAuthentication') {
      const found = parts.meshTls.get(key);
      if (found === undefined) return undefined;
      requirements.push({ identities: found.identities });
    } else {
      const found = parts.networks.get(key);
      if (found === undefined) return undefined;
      requirements.push({ networks: found.networks });
    }
  }
  for (const serviceAccount of policy.serviceAccounts) requirements.push({ identities: [serviceAccount] });
  return requirements;
}

/** Attaches every AuthorizationPolicy and ServerAuthorization to the Servers it targets. */
function attach(all: readonly LinkerdAuthorizationPart[], parts: Parts): void {
  for (const part of all) {
    if (part.kind === 'LinkerdAuthorizationPolicy') {
      const { policy } = part;
      const requirements = policyRequirements(policy, parts);
      if (requirements === undefined) continue;
      for (const server of parts.servers)
        if (
          server.namespace === policy.namespace &&
          (policy.target.kind === 'Namespace' || policy.target.name === server.name)
        )
          parts.authorizations.get(server)?.push(requirements);
    } else if (part.kind === 'ServerAuthorization') {
      const { serverAuthorization: sa } = part;
      const requirements: Requirement[] = [];
      if (sa.identities) requirements.push({ identities: sa.identities });
      if (sa.networks) requirements.push({ networks: sa.networks });
      for (const server of parts.servers)
        if (
          server.namespace === sa.namespace &&
          ('name' in sa.server
            ? sa.server.name === server.name
            : selectorMatches(sa.server.selector, server.labels))
        )
          parts.authorizations.get(server)?.push(requirements);
    }
  }
}

/** What a Server admits besides its authorizations (Linkerd's `accessPolicy`; `audit` admits no one more). */
function defaults(server: LinkerdServerModel): Authorization[] {
  if (server.accessPolicy === 'all-unauthenticated') return [[]];
  if (server.accessPolicy === 'all-authenticated') return [[{ identities: [{ kind: 'any' }] }]];
  return [];
}

/**
 * Linkerd's authorization model on weft's RBAC: each Server becomes a DENY policy on its
 * workloads' port whose sources are the clients no authorization admits (authorizations OR,
 * each one's required authentications AND, and the Server's `accessPolicy` admits its share). A
 * policy naming a missing authentication admits no one. With `accessPolicy: audit` the policy is
 * a dry run: refusals are counted (RBAC shadow rules), never enforced.
 */
export function linkerdAuthorizationPolicies(
  all: readonly LinkerdAuthorizationPart[],
  trustDomain: string,
): AuthorizationPolicyModel[] {
  const parts = sortParts(all);
  attach(all, parts);
  const out: AuthorizationPolicyModel[] = [];
  for (const server of parts.servers) {
    const attached = parts.authorizations.get(server) ?? [];
    const sources = denied([...attached, ...defaults(server)], trustDomain);
    if (sources === undefined || sources.length === 0) continue;
    const anyone = sources.some((s) => Object.keys(s).length === 0);
    out.push({
      name: server.name,
      namespace: server.namespace,
      origin: { kind: 'Server', namespace: server.namespace, name: server.name },
      selector: server.selector,
      ownNamespace: true,
      action: 'DENY',
      dryRun: server.accessPolicy === 'audit',
      rules: [{ from: anyone ? [] : sources, to: [{ ports: [String(server.port)] }], when: [] }],
    });
  }
  return out;
}
