// The small HTTP client of the control-plane API that `weft apply`, `get` and `delete` use.

import { request } from 'undici';
import type { Resource } from '../config/resource.ts';
import type {
  AnalyzeResponse,
  ApiSource,
  ApplyResponse,
  DeleteResponse,
  ErrorResponse,
  ListResponse,
} from '../control/api/types.ts';
import type { HistoryResponse } from '../control/ha/history-route.ts';
import type { ProxiesResponse } from '../control/xds/types.ts';
import { environment } from '../env.ts';
import { ConfigError, type ConfigIssue, ServerUnavailableError, UsageError, WeftError } from '../errors.ts';
import type { WorkloadsResponse } from './get-registry.ts';

/** How long a CLI request may take before the server counts as unresponsive. */
const REQUEST_TIMEOUT_MS = 30_000;

function isErrorResponse(value: unknown): value is ErrorResponse {
  const error = (value as ErrorResponse | null)?.error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof error.code === 'string' &&
    typeof error.message === 'string'
  );
}

/** An error answered by the API, rebuilt so the CLI prints it (and exits) as the server meant. */
function remoteError(status: number, body: ErrorResponse): WeftError {
  const { code, message, issues } = body.error;
  if (code === 'WEFT_CONFIG_INVALID' && Array.isArray(issues))
    return new ConfigError(issues as ConfigIssue[]);
  return new WeftError(code, message, { status, userError: status < 500 || status === 503 });
}

/** Talks to one control plane; every method rejects with a WeftError the CLI can print as one line. */
export class ApiClient {
  readonly #base: URL;

  constructor(server: string) {
    let base: URL;
    try {
      base = new URL(server);
    } catch {
      throw new UsageError(
        `--server ${JSON.stringify(server)} is not a URL; write it like http://127.0.0.1:15080`,
      );
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:')
      throw new UsageError(`--server ${server} must be an http:// or https:// URL`);
    this.#base = base;
  }

  apply(sources: ApiSource[], namespace?: string): Promise<ApplyResponse> {
    return this.#request('POST', '/api/v1/apply', { sources, namespace });
  }

  deleteSources(sources: ApiSource[], namespace?: string): Promise<DeleteResponse> {
    return this.#request('POST', '/api/v1/delete', { sources, namespace });
  }

  /** `POST /api/v1/analyze`: problems in `sources` over what the control plane holds (no sources: what it holds). */
  analyze(sources: ApiSource[], namespace?: string): Promise<AnalyzeResponse> {
    return this.#request('POST', '/api/v1/analyze', { sources, namespace });
  }

  list(kind: string, namespace?: string): Promise<ListResponse> {
    const query = new URLSearchParams({ kind });
    if (namespace !== undefined) query.set('namespace', namespace);
    return this.#request('GET', `/api/v1/resources?${query}`);
  }

  /** Every resource of every kind and namespace, at one revision (`weft backup`). */
  listAll(): Promise<ListResponse> {
    return this.#request('GET', '/api/v1/resources');
  }

  get(kind: string, namespace: string, name: string): Promise<Resource> {
    return this.#request(
      'GET',
      `/api/v1/resources/${[kind, namespace, name].map(encodeURIComponent).join('/')}`,
    );
  }

  delete(kind: string, namespace: string, name: string): Promise<DeleteResponse> {
    return this.#request(
      'DELETE',
      `/api/v1/resources/${[kind, namespace, name].map(encodeURIComponent).join('/')}`,
    );
  }

  /** `GET /api/v1/history/...`: the past writes of one resource, oldest first. */
  history(kind: string, namespace: string, name: string): Promise<HistoryResponse> {
    return this.#request(
      'GET',
      `/api/v1/history/${[kind, namespace, name].map(encodeURIComponent).join('/')}`,
    );
  }

  /** `GET /api/v1/workloads`: the registry's workloads and each service host's endpoints. */
  workloads(): Promise<WorkloadsResponse> {
    return this.#request('GET', '/api/v1/workloads');
  }

  /** `GET /api/v1/proxies`: the xDS clients connected to the control plane (`weft proxy-status`). */
  proxies(): Promise<ProxiesResponse> {
    return this.#request('GET', '/api/v1/proxies');
  }

  /** `GET path` of any read route (the traffic view: `/api/v1/telemetry/...`, proxy admin relays). */
  read<T>(path: string): Promise<T> {
    return this.#request('GET', path);
  }

  /** The URL of `path` on this control plane (for streams the caller reads itself, e.g. tap). */
  url(path: string): URL {
    return new URL(
      path.replace(/^\//, ''),
      this.#base.href.endsWith('/') ? this.#base : `${this.#base.href}/`,
    );
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(
      path.replace(/^\//, ''),
      this.#base.href.endsWith('/') ? this.#base : `${this.#base.href}/`,
    );
    let status: number;
    let text: string;
    try {
      // undici's request, not fetch: fetch refuses "bad ports" (6000, 10080, ...) a user may choose.
      const response = await request(url, {
        method: method as 'GET' | 'POST' | 'DELETE',
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(environment.operatorToken ? { authorization: `Bearer ${environment.operatorToken}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ServerUnavailableError(
        `cannot reach the control plane at ${this.#base.origin} (${why}): start one with \`weft control-plane\`, or point --server / WEFT_SERVER at a running one`,
        err,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ServerUnavailableError(
        `${this.#base.origin} answered ${status} with something that is not weft's API: is --server the control plane's API address?`,
      );
    }
    if (status < 200 || status > 299) {
      if (isErrorResponse(parsed)) throw remoteError(status, parsed);
      throw new ServerUnavailableError(`${this.#base.origin} answered ${status} without a weft error body`);
    }
    return parsed as T;
  }
}
