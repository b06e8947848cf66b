/**
 * The SCIM error vocabulary (RFC 7644 §3.12, RFC 9865). A rule throws the precise error where it
 * lives, made by one of the factories below (nothing else constructs a ScimError); `toJSON` is the
 * one wire format, sent by the HTTP error handler (src/http/errors.ts) and, for requests Node's
 * parser refused, by src/http/client-error.ts.
 *
 * The scimTypes Roster sends. RFC 7644 also defines `tooMany` (Roster pages every result instead
 * of refusing a broad filter), `invalidVers` (Roster has no protocol versions to mismatch) and
 * `sensitive` (Roster refuses no query for carrying personal data in the URL); RFC 9865 defines
 * `expiredCursor` (Roster's cursors are signed and do not expire). Roster never sends those.
 */
const SCIM_TYPES = ['invalidFilter', 'uniqueness', 'mutability', 'invalidSyntax', 'invalidPath', 'noTarget', 'invalidValue', 'invalidCursor'] as const;
export type ScimType = (typeof SCIM_TYPES)[number];
const isScimType = (value: unknown): value is ScimType => (SCIM_TYPES as readonly unknown[]).includes(value);

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export class ScimError extends Error {
  constructor(
    readonly status: number,
    readonly scimType: ScimType | undefined,
    readonly detail: string,
    /** Extra response headers, e.g. Retry-After on 429/503. */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ScimError';
  }

  /** The same error with `prefix` before its detail (which PATCH operation, say). */
  prefixed(prefix: string): ScimError {
    return new ScimError(this.status, this.scimType, `${prefix}${this.detail}`, this.headers);
  }

  toJSON(): Record<string, unknown> {
    return {
      schemas: [SCIM_ERROR_SCHEMA],
      status: String(this.status),
      ...(this.scimType ? { scimType: this.scimType } : {}),
      detail: this.detail,
    };
  }
}

export const invalidFilter = (detail: string) => new ScimError(400, 'invalidFilter', detail);
export const invalidSyntax = (detail: string) => new ScimError(400, 'invalidSyntax', detail);
export const invalidValue = (detail: string) => new ScimError(400, 'invalidValue', detail);
export const invalidPath = (detail: string) => new ScimError(400, 'invalidPath', detail);
export const noTarget = (detail: string) => new ScimError(400, 'noTarget', detail);
export const mutability = (detail: string) => new ScimError(400, 'mutability', detail);
export const uniqueness = (detail: string) => new ScimError(409, 'uniqueness', detail);
export const invalidCursor = (detail: string) => new ScimError(400, 'invalidCursor', detail);
export const notFound = (detail: string) => new ScimError(404, undefined, detail);
export const preconditionFailed = (detail: string) => new ScimError(412, undefined, detail);
/** 405, with the methods the resource does allow. */
export const methodNotAllowed = (detail: string, allowed: string) => new ScimError(405, undefined, detail, { Allow: allowed });
/** 409 without a scimType: a conflict that is not about uniqueness (a Bulk operation in a bulkId cycle). */
export const conflict = (detail: string) => new ScimError(409, undefined, detail);
/** A governance step the caller may not take (an approver deciding their own request, a requester outside the catalog entry's filter). */
export const forbidden = (detail: string) => new ScimError(403, undefined, detail);
/** 413: a body or Bulk request over the advertised limits (RFC 7644 §3.7.4). */
export const payloadTooLarge = (detail: string) => new ScimError(413, undefined, detail);
export const unsupportedMediaType = (detail: string, headers: Record<string, string> = {}) => new ScimError(415, undefined, detail, headers);
/** 408, 431: requests Node's HTTP parser gave up on (src/http/client-error.ts). */
export const requestTimeout = (detail: string) => new ScimError(408, undefined, detail);
export const headersTooLarge = (detail: string) => new ScimError(431, undefined, detail);
export const tooManyRequests = (detail: string, retryAfterSeconds: string) => new ScimError(429, undefined, detail, { 'Retry-After': retryAfterSeconds });
export const internalError = (detail: string) => new ScimError(500, undefined, detail);
/** 502: a downstream target Roster acted on answered wrongly (an operator's action on a connector). */
export const badGateway = (detail: string) => new ScimError(502, undefined, detail);
export const notImplemented = (detail: string) => new ScimError(501, undefined, detail);
export const serviceUnavailable = (detail: string, retryAfterSeconds?: string) => new ScimError(503, undefined, detail, retryAfterSeconds ? { 'Retry-After': retryAfterSeconds } : {});

/** An error scimmy raised, in Roster's vocabulary (a scimType Roster does not send is dropped). */
export const fromLibraryError = (status: number, scimType: string | undefined, detail: string) => new ScimError(status, isScimType(scimType) ? scimType : undefined, detail);
