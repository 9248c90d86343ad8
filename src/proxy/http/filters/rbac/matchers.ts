// envoy.config.rbac.v3 Permission and Principal trees, compiled once into predicates over a request.
import { checkFields, list, type Msg, msg, num, unsupported } from '../../../common/fields.ts';
import {
  compileHeaderMatcher,
  compileStringMatcher,
  matchHeader,
  matchString,
} from '../../router/matchers.ts';
import { compileCidr } from './cidr.ts';
import { compileMetadataMatcher } from './metadata-matcher.ts';
import type { RbacInput } from './rbac-input.ts';

/** A compiled permission or principal. */
export type RbacPredicate = (input: RbacInput) => boolean;

const PERMISSION_FIELDS = [
  'andRules',
  'orRules',
  'any',
  'header',
  'urlPath',
  'destinationIp',
  'destinationPort',
  'destinationPortRange',
  'metadata',
  'notRule',
  'requestedServerName',
];

const PRINCIPAL_FIELDS = [
  'andIds',
  'orIds',
  'any',
  'authenticated',
  'sourceIp',
  'directRemoteIp',
  'remoteIp',
  'header',
  'urlPath',
  'metadata',
  'notId',
];

function all(tests: RbacPredicate[]): RbacPredicate {
  return (input) => {
    for (const t of tests) if (!t(input)) return false;
    return true;
  };
}

function some(tests: RbacPredicate[]): RbacPredicate {
  return (input) => {
    for (const t of tests) if (t(input)) return true;
    return false;
  };
}

/** A PathMatcher `{path: StringMatcher}` against the normalised path without query. */
function urlPath(m: Msg, where: string): RbacPredicate {
  checkFields(m, where, ['path']);
  const path = msg(m.path);
  if (!path) return unsupported(where, 'a url_path without path');
  const s = compileStringMatcher(path, `${where}.path`);
  return (input) => matchString(s, input.urlPath);
}

function header(m: Msg, where: string): RbacPredicate {
  const h = compileHeaderMatcher(m, where);
  return (input) => matchHeader(h, input.head);
}

function metadata(m: Msg, where: string): RbacPredicate {
  const test = compileMetadataMatcher(m, where);
  return (input) => test(input.metadata);
}

/** Compiles an envoy.config.rbac.v3.Permission. */
export function compilePermission(p: Msg, where: string): RbacPredicate {
  checkFields(p, where, PERMISSION_FIELDS);
  const and = msg(p.andRules);
  if (and) return all(list(and.rules).map((r, i) => compilePermission(r, `${where}.and_rules.rules[${i}]`)));
  const or = msg(p.orRules);
  if (or) return some(list(or.rules).map((r, i) => compilePermission(r, `${where}.or_rules.rules[${i}]`)));
  if (p.any === true) return () => true;
  const h = msg(p.header);
  if (h) return header(h, `${where}.header`);
  const path = msg(p.urlPath);
  if (path) return urlPath(path, `${where}.url_path`);
  const ip = msg(p.destinationIp);
  if (ip) {
    const cidr = compileCidr(ip, `${where}.destination_ip`);
    return (input) => cidr(input.connection.destinationIp);
  }
  if (p.destinationPort !== undefined && p.destinationPort !== null) {
    const port = num(p.destinationPort);
    return (input) => input.connection.destinationPort === port;
  }
  const range = msg(p.destinationPortRange);
  if (range) {
    const [start, end] = [num(range.start), num(range.end)];
    return (input) => input.connection.destinationPort >= start && input.connection.destinationPort < end;
  }
  const md = msg(p.metadata);
  if (md) return metadata(md, `${where}.metadata`);
  const not = msg(p.notRule);
  if (not) {
    const inner = compilePermission(not, `${where}.not_rule`);
    return (input) => !inner(input);
  }
  const sni = msg(p.requestedServerName);
  if (sni) {
    const s = compileStringMatcher(sni, `${where}.requested_server_name`);
    return (input) => matchString(s, input.connection.sni ?? '');
  }
  return unsupported(where, 'a permission with no rule set');
}

/** Compiles an envoy.config.rbac.v3.Principal. */
export function compilePrincipal(p: Msg, where: string): RbacPredicate {
  checkFields(p, where, PRINCIPAL_FIELDS);
  const and = msg(p.andIds);
  if (and) return all(list(and.ids).map((r, i) => compilePrincipal(r, `${where}.and_ids.ids[${i}]`)));
  const or = msg(p.orIds);
  if (or) return some(list(or.ids).map((r, i) => compilePrincipal(r, `${where}.or_ids.ids[${i}]`)));
  if (p.any === true) return () => true;
  const authn = msg(p.authenticated);
  if (authn) {
    checkFields(authn, `${where}.authenticated`, ['principalName']);
    const name = msg(authn.principalName);
    // Without principal_name: any peer that presented a verified certificate.
    if (!name) return (input) => input.connection.peerPrincipal !== undefined;
    const s = compileStringMatcher(name, `${where}.authenticated.principal_name`);
    return (input) => {
      const peer = input.connection.peerPrincipal;
      return peer !== undefined && matchString(s, peer);
    };
  }
  const direct = msg(p.directRemoteIp) ?? msg(p.sourceIp);
  if (direct) {
    const cidr = compileCidr(direct, `${where}.${p.directRemoteIp ? 'direct_remote_ip' : 'source_ip'}`);
    return (input) => cidr(input.connection.sourceIp);
  }
  const remote = msg(p.remoteIp);
  if (remote) {
    const cidr = compileCidr(remote, `${where}.remote_ip`);
    return (input) => cidr(input.remoteIp);
  }
  const h = msg(p.header);
  if (h) return header(h, `${where}.header`);
  const path = msg(p.urlPath);
  if (path) return urlPath(path, `${where}.url_path`);
  const md = msg(p.metadata);
  if (md) return metadata(md, `${where}.metadata`);
  const not = msg(p.notId);
  if (not) {
    const inner = compilePrincipal(not, `${where}.not_id`);
    return (input) => !inner(input);
  }
  return unsupported(where, 'a principal with no identifier set');
}

/** Compiles a Policy: at least one permission and at least one principal must match. */
export function compilePolicy(policy: Msg, where: string): RbacPredicate {
  checkFields(policy, where, ['permissions', 'principals']);
  const permissions = list(policy.permissions).map((p, i) =>
    compilePermission(p, `${where}.permissions[${i}]`),
  );
  const principals = list(policy.principals).map((p, i) => compilePrincipal(p, `${where}.principals[${i}]`));
  if (permissions.length === 0 || principals.length === 0)
    unsupported(where, 'a policy without permissions or principals');
  const permitted = some(permissions);
  const identified = some(principals);
  return (input) => permitted(input) && identified(input);
}
