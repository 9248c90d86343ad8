// The error catalogue: every error weft raises on purpose has a class here and a stable code.
//
// Code branches on `code`, never on message text. Every code is listed in docs/errors.md,
// and test/errors.test.ts fails when one is missing there.

/** Base of every deliberate weft error. `userError` errors are printed as one line, exit 1. */
export class WeftError extends Error {
  /** Stable machine-readable code, e.g. `WEFT_CONFIG_INVALID`. */
  readonly code: string;
  /** True when the cause is the user's input (flags, YAML, requests) rather than a weft bug. */
  readonly userError: boolean;
  /** HTTP status the control-plane API answers with for this error. */
  readonly status: number;

  constructor(
    code: string,
    message: string,
    options: { userError?: boolean; status?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.userError = options.userError ?? true;
    this.status = options.status ?? 400;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message };
  }
}

/** The store cannot be reached or did not take a write (etcd unreachable, no quorum). Nothing was changed. */
export class StoreUnavailableError extends WeftError {
  constructor(message: string, cause?: unknown) {
    super('WEFT_STORE_UNAVAILABLE', message, { status: 503, cause });
  }
}

/** A command-line flag or argument is missing or malformed. */
export class UsageError extends WeftError {
  constructor(message: string) {
    super('WEFT_USAGE', message);
  }
}

/** One place in a user document that is wrong: which document, where, which field, and why. */
export interface ConfigIssue {
  /** File name, or `-` for standard input, or `request` for an API body. */
  file: string;
  /** Zero-based index of the document within the file or request. */
  document: number;
  /** One-based line in the file, when known. */
  line?: number;
  /** One-based column in the file, when known. */
  column?: number;
  /** Dotted path of the field, e.g. `spec.http[0].route[1].weight`. */
  field: string;
  /** What is wrong and what to do about it. */
  message: string;
  /** What kind of problem this is, for tools that branch on it (absent: `invalid`). */
  reason?: ConfigIssueReason;
}

/**
 * Kinds of config issue: `syntax` (not parseable YAML/JSON), `missing` (a required field is absent),
 * `unknown-field` (not a field of this kind, e.g. misspelt), `unsupported` (a real field of the
 * dialect that weft does not implement yet), `invalid` (present but wrong).
 */
export type ConfigIssueReason = 'syntax' | 'missing' | 'unknown-field' | 'unsupported' | 'invalid';

/** `file:line:column: document N: field: message`, the form the CLI prints. */
export function formatIssue(issue: ConfigIssue): string {
  const where =
    issue.line === undefined
      ? issue.file
      : `${issue.file}:${issue.line}${issue.column ? `:${issue.column}` : ''}`;
  return `${where}: document ${issue.document}: ${issue.field ? `${issue.field}: ` : ''}${issue.message}`;
}

/** A user resource (YAML/JSON) failed to parse or validate. Carries every issue found. */
export class ConfigError extends WeftError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super('WEFT_CONFIG_INVALID', issues.map(formatIssue).join('\n'));
    this.issues = issues;
  }
  override toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, issues: this.issues };
  }
}

/** A resource names a field weft does not implement yet; reported rather than silently dropped. */
export class UnsupportedFieldError extends WeftError {
  constructor(message: string) {
    super('WEFT_CONFIG_UNSUPPORTED', message);
  }
}

/** The requested resource does not exist. */
export class NotFoundError extends WeftError {
  constructor(message: string) {
    super('WEFT_NOT_FOUND', message, { status: 404 });
  }
}

/** An update raced another one (resourceVersion precondition failed). */
export class ConflictError extends WeftError {
  constructor(message: string) {
    super('WEFT_CONFLICT', message, { status: 409 });
  }
}

/** The control plane could not be reached or answered with something that is not weft's API. */
export class ServerUnavailableError extends WeftError {
  constructor(message: string, cause?: unknown) {
    super('WEFT_SERVER_UNAVAILABLE', message, { status: 503, cause });
  }
}

/** The caller is not allowed to do this (missing or wrong operator or bootstrap token). */
export class UnauthorizedError extends WeftError {
  constructor(message: string) {
    super('WEFT_UNAUTHORIZED', message, { status: 401 });
  }
}

/** The data directory holds something weft cannot read (torn or foreign files). */
export class StoreCorruptError extends WeftError {
  constructor(message: string, cause?: unknown) {
    super('WEFT_STORE_CORRUPT', message, { userError: false, status: 500, cause });
  }
}

/** A request body sent to the API is not valid JSON or not the expected shape. */
export class BadRequestError extends WeftError {
  constructor(message: string) {
    super('WEFT_BAD_REQUEST', message, { status: 400 });
  }
}

/** The xDS client (a proxy) rejected configuration; carries the NACK's error detail. */
export class XdsNackError extends WeftError {
  constructor(message: string) {
    super('WEFT_XDS_NACK', message, { userError: false, status: 500 });
  }
}

/** An xDS client's node metadata cannot be read (a bad port, protocol or labels); its ADS stream is refused. */
export class XdsNodeInvalidError extends WeftError {
  constructor(message: string) {
    super('WEFT_XDS_NODE_INVALID', message, { userError: false, status: 400 });
  }
}

/**
 * An xDS client's verified certificate and its node metadata disagree (another namespace or
 * service account), or a mutual-TLS stream carries no SPIFFE ID; its ADS stream is refused.
 */
export class XdsIdentityError extends WeftError {
  constructor(message: string) {
    super('WEFT_XDS_IDENTITY', message, { userError: false, status: 403 });
  }
}

/** A port the user asked for is already taken or cannot be bound. */
export class PortInUseError extends WeftError {
  constructor(message: string, cause?: unknown) {
    super('WEFT_PORT_IN_USE', message, { cause });
  }
}

/** A watch asked for changes from a revision the store no longer keeps history for. */
export class RevisionCompactedError extends WeftError {
  constructor(message: string) {
    super('WEFT_REVISION_COMPACTED', message, { status: 410 });
  }
}

/** An API request body is larger than the server accepts. */
export class RequestTooLargeError extends WeftError {
  constructor(message: string) {
    super('WEFT_REQUEST_TOO_LARGE', message, { status: 413 });
  }
}

/** An API path exists but does not answer to this HTTP method. */
export class MethodNotAllowedError extends WeftError {
  constructor(message: string) {
    super('WEFT_METHOD_NOT_ALLOWED', message, { status: 405 });
  }
}

/** Another live control plane already uses this data directory. */
export class DataDirInUseError extends WeftError {
  constructor(message: string) {
    super('WEFT_DATA_DIR_IN_USE', message, { status: 500 });
  }
}

/** The CA files (generated root in the data dir, or --ca-cert/--ca-key/--ca-chain) cannot be used. */
export class CaInvalidError extends WeftError {
  constructor(message: string) {
    super('WEFT_CA_INVALID', message, { status: 500 });
  }
}

/** `weft run`: the sidecar could not be started, exited, or did not answer 200 on admin /ready in time. */
export class SidecarNotReadyError extends WeftError {
  constructor(message: string) {
    super('WEFT_SIDECAR_NOT_READY', message, { status: 503 });
  }
}

/** `weft demo`: a process it started exited or did not get ready in time (the message names it and shows its log). */
export class DemoNotReadyError extends WeftError {
  constructor(message: string) {
    super('WEFT_DEMO_NOT_READY', message, { status: 503 });
  }
}

/** Something failed inside weft (a bug or the machine); the API answers 500 with this. */
export class InternalError extends WeftError {
  constructor(message: string, cause?: unknown) {
    super('WEFT_INTERNAL', message, { userError: false, status: 500, cause });
  }
}

/** A TLS transport socket names an SDS secret the proxy does not have (e.g. no workload identity). */
export class TlsSecretMissingError extends WeftError {
  constructor(message: string) {
    super('WEFT_TLS_SECRET_MISSING', message, { status: 500 });
  }
}

/** The bootstrap token grants another identity than the proxy was told to serve (`--service-account`, `--namespace`). */
export class IdentityMismatchError extends WeftError {
  constructor(message: string) {
    super('WEFT_IDENTITY_MISMATCH', message, { status: 403 });
  }
}

/** `weft run`: the app listens beyond loopback, where callers could reach it around its sidecar. */
export class AppExposedError extends WeftError {
  constructor(message: string) {
    super('WEFT_APP_EXPOSED', message);
  }
}

/** `weft run --capture`: the capture rules cannot be installed (no iptables, no CAP_NET_ADMIN); none are left behind. */
export class CaptureUnavailableError extends WeftError {
  constructor(message: string) {
    super('WEFT_CAPTURE_UNAVAILABLE', message);
  }
}

/** Every stable code defined above; documented in docs/errors.md. */
export const ERROR_CODES = [
  'WEFT_USAGE',
  'WEFT_CONFIG_INVALID',
  'WEFT_CONFIG_UNSUPPORTED',
  'WEFT_NOT_FOUND',
  'WEFT_CONFLICT',
  'WEFT_SERVER_UNAVAILABLE',
  'WEFT_UNAUTHORIZED',
  'WEFT_STORE_CORRUPT',
  'WEFT_STORE_UNAVAILABLE',
  'WEFT_BAD_REQUEST',
  'WEFT_XDS_NACK',
  'WEFT_XDS_IDENTITY',
  'WEFT_XDS_NODE_INVALID',
  'WEFT_PORT_IN_USE',
  'WEFT_REVISION_COMPACTED',
  'WEFT_REQUEST_TOO_LARGE',
  'WEFT_METHOD_NOT_ALLOWED',
  'WEFT_DATA_DIR_IN_USE',
  'WEFT_INTERNAL',
  'WEFT_CA_INVALID',
  'WEFT_SIDECAR_NOT_READY',
  'WEFT_TLS_SECRET_MISSING',
  'WEFT_IDENTITY_MISMATCH',
  'WEFT_APP_EXPOSED',
  'WEFT_CAPTURE_UNAVAILABLE',
  'WEFT_DEMO_NOT_READY',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
