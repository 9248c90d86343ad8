// Istio VirtualService → VirtualServiceModel (hosts qualified, gateways normalised, routes checked).

import { hostMatches } from '../../model/hostnames.ts';
import type { TcpRoute, TlsRoute, VirtualServiceModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import { hostSyntaxError } from '../host.ts';
import { labels } from '../names.ts';
import type { Reader } from '../read.ts';
import { defined, list, nonEmptyString, object, port, readObject } from '../read.ts';
import type { ResourceContext } from './common.ts';
import { exportTo, host } from './common.ts';
import { httpRoute } from './http-route.ts';
import { gatewayNames, MESH_GATEWAY, weightedRoutes } from './routing.ts';

function tcpRoute(context: ResourceContext): Reader<TcpRoute> {
  const match = object(
    (f) =>
      defined<TcpRoute['matches'][number]>({
        port: f.optional('port', port),
        sourceLabels: f.optional('sourceLabels', labels),
        gateways: f.optional('gateways', gatewayNames(context)),
      }),
    {
      unsupported: {
        destinationSubnets: 'match tcp traffic by port instead',
        sourceNamespace: 'tcp matches by source namespace are not implemented',
        sourceSubnet: 'tcp matches by source subnet are not implemented',
      },
    },
  );
  return object((f) => ({
    matches: f.optional('match', list(match)) ?? [],
    route: f.required('route', weightedRoutes(context, { headers: false })) ?? [],
  }));
}

/** An SNI host: a DNS name or `*.suffix`, lower-cased, taken literally (not qualified). */
const sniHost: Reader<string> = (check, value, path) => {
  const text = nonEmptyString(check, value, path)?.toLowerCase();
  if (text === undefined) return undefined;
  const error = hostSyntaxError(text);
  if (error === undefined) return text;
  check.error(path, error);
  return undefined;
};

function tlsRoute(context: ResourceContext): Reader<TlsRoute> {
  const match = object(
    (f) =>
      defined<TlsRoute['matches'][number]>({
        sniHosts: f.required('sniHosts', list(sniHost, { nonEmpty: true })) ?? [],
        port: f.optional('port', port),
        sourceLabels: f.optional('sourceLabels', labels),
        gateways: f.optional('gateways', gatewayNames(context)),
      }),
    {
      unsupported: {
        destinationSubnets: 'match TLS traffic by sniHosts instead',
        sourceNamespace: 'tls matches by source namespace are not implemented',
      },
    },
  );
  return object((f) => ({
    matches: f.required('match', list(match, { nonEmpty: true })) ?? [],
    route: f.required('route', weightedRoutes(context, { headers: false })) ?? [],
  }));
}

/** Reads `spec` of a VirtualService named by `context`. */
export function readVirtualService(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): VirtualServiceModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const gateways = f.optional('gateways', gatewayNames(context)) ?? [MESH_GATEWAY];
    const hosts =
      f.required('hosts', list(host(context, { wildcard: true, ip: true }), { nonEmpty: true })) ?? [];
    const model: VirtualServiceModel = {
      name: context.name,
      namespace: context.namespace,
      hosts: [...new Set(hosts)],
      gateways: gateways.length === 0 ? [MESH_GATEWAY] : [...new Set(gateways)],
      http: f.optional('http', list(httpRoute(context))) ?? [],
      tcp: f.optional('tcp', list(tcpRoute(context))) ?? [],
      ...(f.has('tls') ? { tls: f.optional('tls', list(tlsRoute(context))) ?? [] } : {}),
      exportTo: f.optional('exportTo', exportTo(context)),
    };
    if (model.gateways.includes(MESH_GATEWAY) && hosts.includes('*'))
      check.error(
        f.at('hosts'),
        'the wildcard host "*" is not allowed for VirtualServices bound to the mesh (as in Istio)',
      );
    if (!f.has('http') && !f.has('tcp') && !f.has('tls'))
      check.error(f.at('http'), 'a VirtualService needs http, tcp or tls routes', 'missing');
    for (const [i, rule] of (model.tls ?? []).entries())
      for (const [j, m] of rule.matches.entries())
        for (const [k, sni] of m.sniHosts.entries())
          if (!hosts.some((h) => hostMatches(h, sni) || hostMatches(sni, h)))
            check.error(
              ['spec', 'tls', i, 'match', j, 'sniHosts', k],
              `sniHost ${sni} is not one of the VirtualService's hosts (as in Istio, it must be covered by hosts)`,
            );
    return model;
  });
}
