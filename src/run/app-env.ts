// The environment a unit's app runs with: its port, the sidecar as HTTP proxy, and who it is in the mesh.

/** What the app is told about itself and its sidecar. */
export interface AppEnvInput {
  /** Port the app must listen on (`PORT`). */
  appPort: number;
  /** The sidecar's outbound port: the app's HTTP proxy. */
  outboundPort: number;
  service: string;
  namespace: string;
  version: string;
}

/** Hosts the app reaches directly, never through the sidecar (its own port, other local processes). */
export const LOOPBACK_NO_PROXY = ['localhost', '127.0.0.1', '::1'];

/**
 * The inherited environment plus `PORT` and `HOST=127.0.0.1` (the app listens on loopback only,
 * reachable through its sidecar alone), `HTTP_PROXY`/`http_proxy` (the sidecar's outbound
 * listener), `NO_PROXY`/`no_proxy` (loopback, plus what the user already excluded),
 * `NODE_USE_ENV_PROXY=1` (Node 24's fetch and http.request honour the proxy variables only with
 * it) and `WEFT_SERVICE`, `WEFT_NAMESPACE`, `WEFT_VERSION`. `HTTPS_PROXY` is left as it was:
 * https:// URLs are end-to-end TLS the sidecar cannot route by host.
 */
export function appEnvironment(inherited: NodeJS.ProcessEnv, input: AppEnvInput): NodeJS.ProcessEnv {
  const proxy = `http://127.0.0.1:${input.outboundPort}`;
  const noProxy = [...LOOPBACK_NO_PROXY];
  for (const entry of `${inherited.NO_PROXY ?? ''},${inherited.no_proxy ?? ''}`.split(/[,\s]+/))
    if (entry && !noProxy.includes(entry)) noProxy.push(entry);
  return {
    ...inherited,
    PORT: String(input.appPort),
    HOST: '127.0.0.1',
    HTTP_PROXY: proxy,
    http_proxy: proxy,
    NO_PROXY: noProxy.join(','),
    no_proxy: noProxy.join(','),
    NODE_USE_ENV_PROXY: '1',
    WEFT_SERVICE: input.service,
    WEFT_NAMESPACE: input.namespace,
    WEFT_VERSION: input.version,
  };
}
