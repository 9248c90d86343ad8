// The control-plane HTTP/JSON API (node:http): readiness, apply/delete, resources, watch, bootstrap.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Resource } from '../../config/resource.ts';
import { dashboardRoutes } from '../../dashboard/serve.ts';
import {
  MethodNotAllowedError,
  NotFoundError,
  PortInUseError,
  RequestTooLargeError,
  ServerUnavailableError,
  UnauthorizedError,
  type WeftError,
} from '../../errors.ts';
import { logger } from '../../observe/log.ts';
import type { Store } from '../store/store.ts';
import type { MeshAnalyzer, StatusReporter } from './analyze.ts';
import { applySources, deleteSources } from './apply.ts';
import { MAX_BODY_BYTES, readJsonBody } from './body.ts';
import { sendError, sendJson, toWeftError } from './http.ts';
import { deleteResource, getResource, listResources } from './resources.ts';
import { toSourcesRequest } from './sources.ts';
import type { BootstrapResponse } from './types.ts';
import { WatchStreams } from './watch.ts';

export interface ApiServerConfig {
  /** Address to listen on, e.g. `127.0.0.1`. */
  host: string;
  /** Port to listen on; 0 picks a free one (see `listen()`'s result). */
  port: number;
  /** Largest request body accepted, in bytes (default 8 MiB). */
  maxBodyBytes?: number;
}

/** What the API serves from; the control plane provides it. */
export interface ApiContext {
  store: Store;
  /**
   * What proxies need to reach xDS, as seen from `localAddress` (the address the request came
   * in on, used when xDS listens on a wildcard address). Undefined while no xDS server runs.
   */
  bootstrap(localAddress: string | undefined): BootstrapResponse | undefined;
  /** Finds mesh problems in applied resources; `apply` adds them to its warnings. Absent: no analysis. */
  analyzer?: MeshAnalyzer;
  /** Adds each shown resource's `status` (Accepted, ResolvedRefs, ...). Absent: resources are shown as stored. */
  status?: StatusReporter;
  /** More routes served next to the built-in ones (e.g. the CA's); a path may not repeat a built-in one. */
  routes?: ApiRoute[];
  /**
   * Decides whether a request that changes state (any method but GET/HEAD) may proceed; absent:
   * every write is allowed. Paths in `publicWritePaths` skip it (they check their own credentials).
   */
  authorizeWrite?(req: IncomingMessage): 'allowed' | 'missing-token' | 'invalid-token';
  /** Write paths that carry their own credentials (e.g. `/api/v1/certificates` with a bootstrap token). */
  publicWritePaths?: string[];
}

/** Where the API is in its life: only `ready` answers /ready with 200. */
export type ApiState = 'starting' | 'ready' | 'stopping';

/** What a route handler gets: the request, the response, the parsed URL and the path parameters. */
export interface ApiRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Values of the `:name` segments of the route's path, in order. */
  params: string[];
  /** Reads the body as JSON within the server's size limit (RequestTooLargeError, BadRequestError). */
  readJson(): Promise<unknown>;
}

export type RouteHandler = (request: ApiRequest) => Promise<void> | void;

/**
 * A route: a path whose `:name` segments are parameters, and a handler per HTTP method.
 * Handlers answer through `res` (see `sendJson`) and throw WeftErrors for failures.
 */
export interface ApiRoute {
  path: string;
  methods: Partial<Record<'GET' | 'POST' | 'PUT' | 'DELETE', RouteHandler>>;
}

interface Route {
  /** Path segments; `:` marks a parameter. */
  pattern: string[];
  methods: Partial<Record<string, RouteHandler>>;
}

function matchRoute(routes: Route[], segments: string[]): { route: Route; params: string[] } | undefined {
  for (const route of routes) {
    if (route.pattern.length !== segments.length) continue;
    const params: string[] = [];
    let ok = true;
    for (let i = 0; i < segments.length && ok; i++) {
      if (route.pattern[i].startsWith(':')) params.push(segments[i]);
      else ok = route.pattern[i] === segments[i];
    }
    if (ok) return { route, params };
  }
  return undefined;
}

function decodeSegments(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

/** The API server; `listen` binds it, `setState` moves /ready, `close` ends every stream. */
export class ApiServer {
  readonly #config: ApiServerConfig;
  readonly #context: ApiContext;
  readonly #server: Server;
  readonly #routes: Route[];
  readonly #watches: WatchStreams;
  readonly #log = logger({ component: 'api' });
  #state: ApiState = 'starting';
  /** Requests being answered (watch streams count only until their headers are out). */
  #inFlight = 0;
  #drained: (() => void) | undefined;

  constructor(config: ApiServerConfig, context: ApiContext) {
    this.#config = config;
    this.#context = context;
    this.#watches = new WatchStreams(context.store);
    this.#routes = this.#buildRoutes();
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#log.error({ err }, 'API request failed while answering');
        res.destroy();
      });
    });
  }

  /** Binds the server; resolves to the port actually bound. */
  listen(): Promise<number> {
    const { host, port } = this.#config;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.#server.off('listening', onListening);
        reject(
          err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL'
            ? new PortInUseError(
                `cannot serve the API on ${host}:${port}: ${err.code}; pick another --api address`,
                err,
              )
            : err,
        );
      };
      const onListening = () => {
        this.#server.off('error', onError);
        this.#server.on('error', (err) => this.#log.error({ err }, 'API server error'));
        resolve((this.#server.address() as AddressInfo).port);
      };
      this.#server.once('error', onError);
      this.#server.once('listening', onListening);
      this.#server.listen(port, host);
    });
  }

  setState(state: ApiState): void {
    this.#state = state;
  }

  /**
   * Stops accepting connections, ends watch streams, lets requests in progress finish (up to 5 s),
   * then closes every connection (keep-alive ones and those of clients that never hang up).
   */
  async close(): Promise<void> {
    this.#state = 'stopping';
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#watches.endAll();
    if (this.#inFlight > 0)
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        setTimeout(resolve, 5000).unref();
      });
    this.#server.closeAllConnections();
    await closed;
  }

  #buildRoutes(): Route[] {
    const store = this.#context.store;
    const withStatus = (items: Resource[]) => this.#context.status?.(items) ?? items;
    const sourcesBody = async (request: ApiRequest) => toSourcesRequest(await request.readJson());
    const route = (path: string, methods: Route['methods']): Route => ({
      pattern: path.split('/').filter((s) => s !== ''),
      methods,
    });
    const extra = (this.#context.routes ?? []).map((r) => route(r.path, r.methods));
    const builtIn: Route[] = [
      route('/ready', {
        GET: ({ res }) => {
          if (this.#state === 'ready') sendJson(res, 200, { status: 'ready' });
          else sendError(res, new ServerUnavailableError(`the control plane is ${this.#state}`));
        },
      }),
      route('/healthz', { GET: ({ res }) => sendJson(res, 200, { status: 'ok' }) }),
      route('/api/v1/bootstrap', {
        GET: ({ req, res }) => {
          const info = this.#context.bootstrap(req.socket.localAddress);
          if (info) sendJson(res, 200, info);
          else
            sendError(res, new ServerUnavailableError('the xDS server is not running on this control plane'));
        },
      }),
      route('/api/v1/apply', {
        POST: async (request) =>
          sendJson(
            request.res,
            200,
            await applySources(store, await sourcesBody(request), this.#context.analyzer),
          ),
      }),
      route('/api/v1/delete', {
        POST: async (request) =>
          sendJson(request.res, 200, await deleteSources(store, await sourcesBody(request))),
      }),
      route('/api/v1/resources', {
        GET: ({ url, res }) => {
          const list = listResources(store, url.searchParams);
          sendJson(res, 200, { ...list, items: withStatus(list.items) });
        },
      }),
      route('/api/v1/resources/:kind/:namespace/:name', {
        GET: ({ params, res }) =>
          sendJson(res, 200, withStatus([getResource(store, params[0], params[1], params[2])])[0]),
        DELETE: async ({ params, res }) =>
          sendJson(res, 200, await deleteResource(store, params[0], params[1], params[2])),
      }),
      route('/api/v1/watch', {
        GET: ({ url, res }) => this.#watches.open(url.searchParams, res),
      }),
      ...dashboardRoutes().map((r) => route(r.path, r.methods)),
    ];
    const taken = new Set(builtIn.map((r) => r.pattern.join('/')));
    for (const r of extra)
      if (taken.has(r.pattern.join('/')))
        throw new Error(`API route /${r.pattern.join('/')} is defined twice`);
    return [...builtIn, ...extra];
  }

  /** Throws UnauthorizedError when a write comes without the operator token it needs. */
  #authorize(req: IncomingMessage, pathname: string): void {
    const decide = this.#context.authorizeWrite;
    if (!decide || req.method === 'GET' || req.method === 'HEAD') return;
    if (this.#context.publicWritePaths?.includes(pathname)) return;
    const access = decide(req);
    if (access === 'missing-token')
      throw new UnauthorizedError(
        'writes to this API from beyond its host need the operator token: set WEFT_TOKEN to the contents of <data-dir>/operator.token',
      );
    if (access === 'invalid-token')
      throw new UnauthorizedError('the operator token (WEFT_TOKEN) is not valid for this control plane');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://api.invalid');
    } catch {
      url = new URL('http://api.invalid/');
    }
    this.#inFlight++;
    try {
      const match = matchRoute(this.#routes, decodeSegments(url.pathname));
      if (!match) throw new NotFoundError(`no API path ${url.pathname} (see docs/api.md)`);
      const handler = match.route.methods[req.method ?? ''];
      if (!handler) {
        const allowed = Object.keys(match.route.methods).join(', ');
        res.setHeader('allow', allowed);
        throw new MethodNotAllowedError(`${url.pathname} answers ${allowed}, not ${req.method}`);
      }
      this.#authorize(req, url.pathname);
      const readJson = () => readJsonBody(req, this.#config.maxBodyBytes ?? MAX_BODY_BYTES);
      await handler({ req, res, url, params: match.params, readJson });
    } catch (err) {
      const weftError: WeftError = toWeftError(err);
      if (weftError.status >= 500) this.#log.error({ err, path: url.pathname }, 'API request failed');
      // A body we stopped reading cannot be drained safely: close the connection after answering.
      const headers: Record<string, string> =
        err instanceof RequestTooLargeError ? { connection: 'close' } : {};
      sendError(res, weftError, headers);
    } finally {
      if (--this.#inFlight === 0) this.#drained?.();
    }
    this.#log.debug(
      {
        method: req.method,
        path: url.pathname,
        status: res.statusCode,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      },
      'API request',
    );
  }
}
