/**
 * Input rules at the edge: the one place where what a client sends is checked before any route,
 * parser or rule recurses into it or hands it to PostgreSQL (docs/security.md, "What Roster
 * refuses"). Every refusal is a SCIM error naming the attribute or parameter and what to fix.
 *
 * - Strings: no NUL (U+0000; PostgreSQL's text and jsonb cannot hold it, it came back as a 500) and
 *   no unpaired UTF-16 surrogate (not Unicode; PostgreSQL would store a replacement character, so
 *   what Roster answers would differ from what it stored). In the path, the query and the body,
 *   attribute names included.
 * - Path segments (ids) must be valid percent-encoded UTF-8: `/Users/%FF%FE` is a 400, not a 500
 *   from the router's decoder.
 * - JSON bodies: at most `maxJsonDepth` levels of nesting, checked on the raw bytes before
 *   JSON.parse and before any route walks the value (a PATCH nested thousands deep overflowed the
 *   stack); strings are walked (without recursion) only when an escape could spell NUL or a surrogate.
 * - Content-Encoding: identity, gzip, deflate or br; anything else is 415 (with Accept-Encoding,
 *   RFC 9110 §15.5.16), and a body that does not decode as its declared coding is 400. The size
 *   limit applies to the decoded body, so a small compressed bomb is still a 413.
 */
import express, { type RequestHandler } from 'express';
import { invalidSyntax, invalidValue, ScimError, unsupportedMediaType } from '../scim/errors.js';
import { stringProblem } from '../scim/text-rules.js';

export interface InputLimits {
  maxBodyBytes: number;
  /** Deepest nesting of arrays and objects in a JSON body (the top-level value is depth 1). */
  maxJsonDepth: number;
}

export const DEFAULT_MAX_JSON_DEPTH = 64;
export const ACCEPTED_CONTENT_ENCODINGS = ['gzip', 'deflate', 'br'] as const;
const ACCEPTED = new Set<string>(['identity', ...ACCEPTED_CONTENT_ENCODINGS]);
const JSON_TYPES = ['application/json', 'application/scim+json'];
/** Longest location shown in a detail: a path into a deep body can be as long as the body. */
const MAX_SHOWN = 120;

const shown = (text: string) => (text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text);

function checkString(text: string, where: () => string): void {
  const problem = stringProblem(text);
  if (problem) throw invalidValue(`${where()} ${problem}`);
}

/** The request path: every segment decodes as UTF-8 and holds no NUL. Query: every name and value. */
export const checkRequestLine: RequestHandler = (req, _res, next) => {
  for (const segment of req.path.split('/')) {
    if (!segment.includes('%')) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw invalidValue(`The URL path segment "${shown(segment)}" is not valid percent-encoded UTF-8; percent-encode each UTF-8 byte of the id (e.g. %C3%A9 for é)`);
    }
    checkString(decoded, () => `The URL path segment "${shown(segment)}"`);
  }
  const query = req.query as Record<string, unknown>;
  for (const [name, value] of Object.entries(query)) {
    checkString(name, () => 'A query parameter name');
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === 'string') checkString(item, () => `The query parameter "${shown(name)}"`);
    }
  }
  next();
};

/** A value on the walk's stack; the path to it is rebuilt from the parents only for an error message. */
interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | undefined;
  key: string | number | undefined;
}

function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let f: Frame | undefined = frame; f?.parent; f = f.parent) parts.push(typeof f.key === 'number' ? `[${f.key}]` : `.${f.key}`);
  return parts.reverse().join('').replace(/^\./, '');
}

/**
 * Walks a parsed JSON value with an explicit stack (no recursion, so no depth can overflow it),
 * refusing nesting beyond `maxDepth` and any string or member name `stringProblem` refuses.
 */
export function checkJsonValue(value: unknown, maxDepth: number): void {
  const stack: Frame[] = [{ value, depth: 1, parent: undefined, key: undefined }];
  const label = (frame: Frame) => (frame.parent ? `The value at "${shown(pathOf(frame))}"` : 'The request body');
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const current = frame.value;
    if (typeof current === 'string') {
      checkString(current, () => label(frame));
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (frame.depth > maxDepth) {
      throw invalidSyntax(`The request body nests arrays and objects deeper than ${maxDepth} levels (at "${shown(pathOf(frame))}"); SCIM documents need only a few`);
    }
    const depth = frame.depth + 1;
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], depth, parent: frame, key: i });
      continue;
    }
    for (const key in current) {
      checkString(key, () => `The member name at "${shown(pathOf({ value: undefined, depth, parent: frame, key }))}"`);
      stack.push({ value: (current as Record<string, unknown>)[key], depth, parent: frame, key });
    }
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LOWER_U = 0x75;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * One pass over the raw (decoded) body bytes before JSON.parse: refuses nesting beyond `maxDepth`
 * and reports whether a string holds a `\u` escape that could spell NUL or a surrogate. Raw bytes
 * cannot (JSON forbids raw control characters in strings, and invalid UTF-8 decodes to U+FFFD),
 * so a body without such an escape needs no walk of its strings; that is nearly every body.
 */
export function scanRawJson(bytes: Uint8Array, maxDepth: number): { suspiciousEscapes: boolean } {
  let depth = 0;
  let suspiciousEscapes = false;
  // Strings are skipped with native searches for the closing quote; the next backslash is found
  // once and searched again only after it is passed, so the scan stays linear.
  let nextBackslash = bytes.indexOf(BACKSLASH);
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      let from = i + 1;
      for (;;) {
        const quote = bytes.indexOf(QUOTE, from);
        if (quote === -1) return { suspiciousEscapes }; // unterminated: JSON.parse reports it
        if (nextBackslash !== -1 && nextBackslash < from) nextBackslash = bytes.indexOf(BACKSLASH, from);
        if (nextBackslash === -1 || nextBackslash > quote) {
          i = quote;
          break;
        }
        if (bytes[nextBackslash + 1] === LOWER_U && isSuspiciousEscape(bytes, nextBackslash + 2)) suspiciousEscapes = true;
        from = nextBackslash + 2;
      }
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) throw invalidSyntax(`The request body nests arrays and objects deeper than ${maxDepth} levels (at byte ${i}); SCIM documents need only a few`);
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return { suspiciousEscapes };
}

/** `0000` (NUL) or `D800`–`DFFF` (a surrogate, perhaps unpaired) after a `\u`. */
function isSuspiciousEscape(bytes: Uint8Array, at: number): boolean {
  const hex = String.fromCharCode(...bytes.subarray(at, at + 4)).toLowerCase();
  return hex === '0000' || /^d[89a-f]/.test(hex);
}

/** One Content-Encoding this server decodes, or 415 naming the ones it does. */
function checkContentEncoding(header: string | undefined): string {
  const coding = (header ?? 'identity').trim().toLowerCase() || 'identity';
  if (!ACCEPTED.has(coding)) {
    throw unsupportedMediaType(
      `Content-Encoding "${shown(header ?? '')}" is not supported; send the body uncompressed or with one of ${ACCEPTED_CONTENT_ENCODINGS.join(', ')}`,
      { 'Accept-Encoding': ACCEPTED_CONTENT_ENCODINGS.join(', ') },
    );
  }
  return coding;
}

/** body-parser's typed errors keep their meaning (errors.ts translates them); anything else a decoder raised is the body's fault. */
const KNOWN_PARSER_ERRORS = new Set(['entity.too.large', 'entity.parse.failed', 'request.aborted', 'charset.unsupported', 'request.size.invalid']);

/**
 * The JSON body parser of the SCIM routes, with the rules above. Mounted on each route that takes
 * a body, after the method and path have matched: a POST to a read-only endpoint is a 405 whatever
 * its body (RFC 7644 §3.2), not a parse error.
 */
export function jsonBody(limits: InputLimits): RequestHandler {
  const parse = express.json({
    type: JSON_TYPES,
    limit: limits.maxBodyBytes,
    strict: false,
    verify: (req, _res, bytes) => {
      (req as { suspiciousEscapes?: boolean }).suspiciousEscapes = scanRawJson(bytes, limits.maxJsonDepth).suspiciousEscapes;
    },
  });
  return (req, res, next) => {
    const coding = checkContentEncoding(req.get('content-encoding'));
    parse(req, res, (error?: unknown) => {
      if (error) {
        // body-parser passes what verify threw on, with a status and type of its own added.
        if (error instanceof ScimError) {
          next(error.prefixed(''));
          return;
        }
        const e = error as { type?: string };
        if (coding !== 'identity' && !(e.type && KNOWN_PARSER_ERRORS.has(e.type))) {
          next(invalidSyntax(`The request body is not valid ${coding} data, though Content-Encoding says so; compress it with ${coding} or drop the header`));
          return;
        }
        next(error);
        return;
      }
      try {
        if ((req as { suspiciousEscapes?: boolean }).suspiciousEscapes) checkJsonValue(req.body, limits.maxJsonDepth);
      } catch (refusal) {
        next(refusal);
        return;
      }
      next();
    });
  };
}
