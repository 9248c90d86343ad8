// `weft token create`: asks the control plane for a bootstrap token granting one workload identity.
import type { Command } from 'commander';
import { Option } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { environment } from '../env.ts';
import { ServerUnavailableError, UsageError, WeftError } from '../errors.ts';
import { CA_API_PATHS, type TokenRequest, type TokenResponse } from '../identity/ca-api-types.ts';
import { segmentProblem } from '../identity/spiffe.ts';

interface TokenCreateOptions {
  namespace: string;
  serviceAccount: string;
  ttl: string;
  server: string;
  output?: 'token' | 'json';
}

/** How long the request may take before the control plane counts as unresponsive. */
const REQUEST_TIMEOUT_MS = 30_000;

/** Checks `--namespace` and `--service-account` can be the segments of a SPIFFE ID. */
export function checkIdentityFlags(opts: { namespace: string; serviceAccount: string }): void {
  for (const [flag, value] of [
    ['--namespace', opts.namespace],
    ['--service-account', opts.serviceAccount],
  ] as const) {
    const problem = segmentProblem(value);
    if (problem) throw new UsageError(`${flag} ${JSON.stringify(value)} ${problem}`);
  }
}

function validate(opts: TokenCreateOptions): TokenRequest {
  checkIdentityFlags(opts);
  const ttl = parseDuration(opts.ttl);
  if ('error' in ttl) throw new UsageError(`--ttl: ${ttl.error}`);
  return { namespace: opts.namespace, serviceAccount: opts.serviceAccount, ttl: opts.ttl };
}

/** POSTs to /api/v1/tokens, with the operator token (WEFT_TOKEN) when one is set. */
export async function createToken(
  server: string,
  body: TokenRequest,
  operatorToken?: string,
): Promise<TokenResponse> {
  let url: URL;
  try {
    url = new URL(CA_API_PATHS.tokens, server);
  } catch {
    throw new UsageError(
      `--server ${JSON.stringify(server)} is not a URL; write it like http://127.0.0.1:15080`,
    );
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (operatorToken) headers.authorization = `Bearer ${operatorToken}`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    text = await response.text();
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ServerUnavailableError(
      `cannot reach the control plane at ${url.origin} (${cause?.code ?? cause?.message ?? (err as Error).message}): start one with \`weft control-plane\`, or point --server / WEFT_SERVER at a running one`,
      err,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ServerUnavailableError(
      `${url.origin} answered ${response.status} with something that is not weft's API`,
    );
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } }).error;
    if (typeof error?.code === 'string' && typeof error.message === 'string')
      throw new WeftError(error.code, error.message, {
        status: response.status,
        userError: response.status < 500,
      });
    throw new ServerUnavailableError(`${url.origin} answered ${response.status} without a weft error body`);
  }
  const token = parsed as Partial<TokenResponse>;
  if (typeof token.token !== 'string')
    throw new ServerUnavailableError(`${url.origin} answered without a token`);
  return token as TokenResponse;
}

export function register(program: Command): void {
  const token = program
    .command('token')
    .description('manage bootstrap tokens that let workloads get certificates');
  token
    .command('create')
    .description(
      'print a bootstrap token granting exactly one identity (spiffe://<trust-domain>/ns/NS/sa/SA); ' +
        'store it as a file only the workload can read and give it to the proxy of the workload. From another host ' +
        'than the control plane, set WEFT_TOKEN to the operator token (<data-dir>/operator.token).',
    )
    .requiredOption('--namespace <namespace>', 'namespace of the workload')
    .requiredOption('--service-account <name>', 'service account of the workload')
    .option('--ttl <duration>', 'how long the token stays valid', '8760h')
    .option('--server <url>', 'control-plane API URL (WEFT_SERVER)', environment.server)
    .addOption(
      new Option('-o, --output <format>', 'token: the token only; json: with identity and expiry').choices([
        'token',
        'json',
      ]),
    )
    .action(async (opts: TokenCreateOptions) => {
      const minted = await createToken(opts.server, validate(opts), environment.operatorToken);
      if (opts.output === 'json') process.stdout.write(`${JSON.stringify(minted, null, 2)}\n`);
      else {
        process.stdout.write(`${minted.token}\n`);
        process.stderr.write(`token for ${minted.spiffeId}, valid until ${minted.expiresAt}\n`);
      }
    });
}
