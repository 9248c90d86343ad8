// HTTP handlers of the CA: sign a workload CSR for a bootstrap token, serve the trust bundle, mint tokens.
//
// Handlers are plain functions of (headers, peer address, body reader) so tests can call them
// directly; `caRoutes` mounts them on the control-plane API. They throw WeftErrors, which the
// API turns into `{"error": {...}}` responses with the error's status.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { parseDuration } from '../../config/duration.ts';
import { BadRequestError, UnauthorizedError } from '../../errors.ts';
import {
  CA_API_PATHS,
  type CertificateRequest,
  type CertificateResponse,
  type TokenRequest,
  type TokenResponse,
} from '../../identity/ca-api-types.ts';
import { formatSpiffeId } from '../../identity/spiffe.ts';
import { logger } from '../../observe/log.ts';
import { sendJson } from '../api/http.ts';
import type { ApiRequest, ApiRoute } from '../api/server.ts';
import type { BootstrapTokens } from './bootstrap-token.ts';
import type { CertificateAuthority } from './certificate-authority.ts';
import { bearerToken, type OperatorToken } from './operator-token.ts';

/** What a CA handler needs from an HTTP request. */
export interface CaApiRequest {
  headers: IncomingHttpHeaders;
  /** `req.socket.remoteAddress`. */
  remoteAddress: string | undefined;
  /** Reads the JSON body; handlers call it only once the caller is authenticated. */
  readJson(): Promise<unknown>;
}

/** A handler's answer: JSON bodies are objects, the trust bundle is PEM text. */
export type CaApiResponse =
  | { status: number; contentType: 'application/json'; body: object }
  | { status: number; contentType: 'application/x-pem-file'; body: string };

export interface CaApiConfig {
  ca: CertificateAuthority;
  tokens: BootstrapTokens;
  /** Guards `POST /api/v1/tokens` for callers that are not on loopback. */
  operatorToken: OperatorToken;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadRequestError('request body must be a JSON object');
  return body as Record<string, unknown>;
}

function optionalDuration(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw new BadRequestError(`${field}: must be a duration string such as "24h"`);
  const parsed = parseDuration(value);
  if ('error' in parsed) throw new BadRequestError(`${field}: ${parsed.error}`);
  return parsed.ms;
}

function requiredString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) throw new BadRequestError(`${field}: required string`);
  return value;
}

export class CaApi {
  readonly #config: CaApiConfig;
  readonly #log = logger({ component: 'ca-api' });

  constructor(config: CaApiConfig) {
    this.#config = config;
  }

  /**
   * `POST /api/v1/certificates`: the identity comes from the bootstrap token alone; the body only
   * carries the CSR and an optional lifetime. 401 for a missing, bad or expired token; 400 for a bad CSR.
   */
  async issueCertificate(req: CaApiRequest): Promise<CaApiResponse> {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined)
      throw new UnauthorizedError('a bootstrap token is required: send Authorization: Bearer <token>');
    const verdict = this.#config.tokens.verify(token);
    if (verdict.outcome !== 'valid') {
      this.#log.warn({ peer: req.remoteAddress, outcome: verdict.outcome }, 'certificate request refused');
      throw new UnauthorizedError(`bootstrap token refused: ${verdict.reason}`);
    }
    const body = objectBody(await req.readJson()) as Partial<CertificateRequest>;
    const csr = requiredString(body, 'csr');
    const ttlMs = optionalDuration(body.ttl, 'ttl');
    const issued = await this.#config.ca.sign(csr, verdict.identity, ttlMs);
    this.#log.info(
      {
        spiffeId: issued.spiffeId,
        serial: issued.serialNumber,
        notAfter: issued.notAfter.toISOString(),
        jti: verdict.claims.jti,
        peer: req.remoteAddress,
      },
      'issued workload certificate',
    );
    const response: CertificateResponse = {
      certificateChain: issued.certificateChainPem,
      trustBundle: this.#config.ca.trustBundle(),
      spiffeId: issued.spiffeId,
      expiresAt: issued.notAfter.toISOString(),
    };
    return { status: 200, contentType: 'application/json', body: response };
  }

  /** `GET /api/v1/trust-bundle`: the root certificates, PEM. Public. */
  trustBundle(): CaApiResponse {
    return { status: 200, contentType: 'application/x-pem-file', body: this.#config.ca.trustBundle() };
  }

  /** `POST /api/v1/tokens`: mints a bootstrap token. Loopback peers, or the operator token, only. */
  async createToken(req: CaApiRequest): Promise<CaApiResponse> {
    const access = this.#config.operatorToken.authorizeWrite({
      remoteAddress: req.remoteAddress,
      authorization: req.headers.authorization,
    });
    if (access === 'missing-token' || access === 'invalid-token')
      throw new UnauthorizedError(
        access === 'missing-token'
          ? `minting tokens from ${req.remoteAddress} needs the operator token (Authorization: Bearer, WEFT_TOKEN), found in ${this.#config.operatorToken.path} on the control plane`
          : 'the operator token is wrong',
      );
    const body = objectBody(await req.readJson()) as Partial<TokenRequest>;
    const identity = {
      namespace: requiredString(body, 'namespace'),
      serviceAccount: requiredString(body, 'serviceAccount'),
    };
    const spiffeId = formatSpiffeId({ trustDomain: this.#config.ca.trustDomain, ...identity });
    const minted = this.#config.tokens.mint(identity, optionalDuration(body.ttl, 'ttl'));
    this.#log.info(
      {
        spiffeId,
        jti: minted.claims.jti,
        expiresAt: minted.expiresAt.toISOString(),
        access,
        peer: req.remoteAddress,
      },
      'minted bootstrap token',
    );
    const response: TokenResponse = {
      token: minted.token,
      spiffeId,
      expiresAt: minted.expiresAt.toISOString(),
    };
    return { status: 200, contentType: 'application/json', body: response };
  }
}

function send(res: ServerResponse, answer: CaApiResponse): void {
  if (answer.contentType === 'application/json') {
    sendJson(res, answer.status, answer.body);
    return;
  }
  res.writeHead(answer.status, {
    'content-type': answer.contentType,
    'content-length': Buffer.byteLength(answer.body),
  });
  res.end(answer.body);
}

function caRequest(request: ApiRequest): CaApiRequest {
  return {
    headers: request.req.headers,
    remoteAddress: request.req.socket.remoteAddress,
    readJson: () => request.readJson(),
  };
}

/** The CA's routes for the control-plane API (`ApiContext.routes`). */
export function caRoutes(api: CaApi): ApiRoute[] {
  return [
    {
      path: CA_API_PATHS.certificates,
      methods: { POST: async (request) => send(request.res, await api.issueCertificate(caRequest(request))) },
    },
    { path: CA_API_PATHS.trustBundle, methods: { GET: ({ res }) => send(res, api.trustBundle()) } },
    {
      path: CA_API_PATHS.tokens,
      methods: { POST: async (request) => send(request.res, await api.createToken(caRequest(request))) },
    },
  ];
}
