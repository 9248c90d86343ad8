// Outcomes of JWT verification (Envoy's jwt_verify_lib statuses) and the messages Envoy answers with.

export type JwtStatus =
  | 'Ok'
  | 'JwtMissed'
  | 'JwtNotYetValid'
  | 'JwtExpired'
  | 'JwtBadFormat'
  | 'JwtHeaderParseError'
  | 'JwtHeaderBadAlg'
  | 'JwtHeaderNotImplementedAlg'
  | 'JwtPayloadParseError'
  | 'JwtSignatureParseError'
  | 'JwtVerificationFail'
  | 'JwtUnknownIssuer'
  | 'JwtAudienceNotAllowed'
  | 'JwtSubjectNotAllowed'
  | 'JwtMissingExpiration'
  | 'JwtExpLifetimeTooLong'
  | 'JwksFetchFail'
  | 'JwksKidAlgMismatch';

/** Response bodies, Envoy's words where Envoy has them. */
export const STATUS_MESSAGE: Readonly<Record<JwtStatus, string>> = {
  Ok: 'OK',
  JwtMissed: 'Jwt is missing',
  JwtNotYetValid: 'Jwt not yet valid',
  JwtExpired: 'Jwt is expired',
  JwtBadFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  JwtHeaderParseError: 'Jwt header is an invalid Base64url encoded JSON object',
  JwtHeaderBadAlg: 'Jwt header [alg] field is required and must be a string',
  JwtHeaderNotImplementedAlg: 'Jwt header [alg] is not supported',
  JwtPayloadParseError: 'Jwt payload is an invalid Base64url encoded JSON object',
  JwtSignatureParseError: 'Jwt signature is an invalid Base64url encoded',
  JwtVerificationFail: 'Jwt verification fails',
  JwtUnknownIssuer: 'Jwt issuer is not configured',
  JwtAudienceNotAllowed: 'Audiences in Jwt are not allowed',
  JwtSubjectNotAllowed: 'Jwt subject is not allowed',
  JwtMissingExpiration: 'Jwt has no exp claim, which is required',
  JwtExpLifetimeTooLong: 'Jwt lifetime is longer than allowed',
  JwksFetchFail: 'Jwks remote fetch is failed',
  JwksKidAlgMismatch: "Jwks doesn't have key to match kid or alg from Jwt",
};

/** Envoy answers a wrong audience with 403, every other failure with 401. */
export function statusCode(status: JwtStatus): number {
  return status === 'JwtAudienceNotAllowed' ? 403 : 401;
}
