// Request and response bodies of the control-plane HTTP API (docs/api.md), shared with the CLI client.
import type { PlacedFinding } from '../../analysis/types.ts';
import type { Resource, SourceLocation } from '../../config/resource.ts';

/** One file (or stdin) sent for apply or delete: its name for error messages and its YAML/JSON text. */
export interface ApiSource {
  file: string;
  text: string;
}

/** Body of `POST /api/v1/apply` and `POST /api/v1/delete`. */
export interface SourcesRequest {
  sources: ApiSource[];
  /** Namespace for documents that name none (default `default`). */
  namespace?: string;
}

/** What an apply did to one resource, in kubectl's words. */
export type ApplyAction = 'created' | 'configured' | 'unchanged';

/** Identifies a resource in a response. */
export interface ResourceRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface ApplyResult extends ResourceRef {
  action: ApplyAction;
  /** The stored resource's resourceVersion after the apply. */
  resourceVersion: string;
  source: SourceLocation;
}

/** Something accepted but worth saying, tied to the document it came from. */
export interface ApplyWarning {
  file: string;
  document: number;
  /** Line where the document's resource starts. */
  line: number;
  /** The warning as `file:line:column: document N: field: message`. */
  message: string;
}

export interface ApplyResponse {
  /** Store revision after the apply (unchanged when every resource was unchanged). */
  revision: number;
  results: ApplyResult[];
  warnings: ApplyWarning[];
}

export interface DeleteResult extends ResourceRef {
  action: 'deleted';
}

/** Body of a successful `POST /api/v1/delete` or `DELETE /api/v1/resources/...`. */
export interface DeleteResponse {
  revision: number;
  results: DeleteResult[];
}

/** Body of `GET /api/v1/resources`. */
export interface ListResponse {
  /** Store revision the list reflects; watch from it to follow changes. */
  revision: number;
  items: Resource[];
}

/** One line of `GET /api/v1/watch`. */
export interface WatchEvent {
  type: 'put' | 'delete';
  revision: number;
  resource: Resource;
}

/** Body of `GET /api/v1/bootstrap`: what a proxy needs to reach the xDS server. */
export interface BootstrapResponse {
  /** `host:port` of the ADS gRPC server, reachable from where the request came from. */
  xdsAddress: string;
  trustDomain: string;
  /** The SPIFFE ID the xDS server presents (mutual TLS; proxies accept no other). */
  controlPlaneIdentity?: string;
  /** `host:port` of the plaintext read-only xDS port (`--xds-plaintext`), when served. */
  xdsPlaintextAddress?: string;
}

/** Body of every error response. */
export interface ErrorResponse {
  error: { code: string; message: string; issues?: unknown[] };
}

/** Body of `POST /api/v1/analyze`: every problem found (`weft analyze`). */
export interface AnalyzeResponse {
  findings: PlacedFinding[];
}
