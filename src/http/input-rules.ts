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
 * - JSON bodies: at most `maxJsonDepth` levels of nesting, checked on the parsed value without
 *   recursion, before any route walks it (a PATCH nested thousands deep overflowed the stack).
 * - Content-Encoding: identity, gzip, deflate or br; anything else is 415 (with Accept-Encoding,
 *   RFC 9110 §15.5.16), and a body that does not decode as its declared coding is 400. The size
 *   limit applies to the decoded body, so a small compressed bomb is still a 413.
 */
import express, { type RequestHandler } from 'express';
import { invalidSyntax, invalidValue, ScimError } from '../scim/errors.js';
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

/**
 * Walks a parsed JSON value with an explicit stack (no recursion, so no depth can overflow it),
 * refusing nesting beyond `maxDepth` and any string or member name `stringProblem` refuses.
 */
export function checkJsonValue(value: unknown, maxDepth: number): void {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 1, path: '' }];
  const label = (path: string) => (path === '' ? 'The request body' : `The value at "${shown(path)}"`);
  while (stack.length > 0) {
    const item = stack.pop()!;
    const current = item.value;
    if (typeof current === 'string') {
      checkString(current, () => label(item.path));
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (item.depth > maxDepth) {
      throw invalidSyntax(`The request body nests arrays and objects deeper than ${maxDepth} levels (at "${shown(item.path)}"); SCIM documents need only a few`);
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], depth: item.depth + 1, path: `${item.path}[${i}]` });
      continue;
    }
    for (const [key, child] of Object.entries(current as Record<string, unknown>)) {
      const path = item.path === '' ? key : `${item.path}.${key}`;
      checkString(key, () => `The member name at "${shown(path)}"`);
      stack.push({ value: child, depth: item.depth + 1, path });
    }
  }
}

/** One Content-Encoding this server decodes, or 415 naming the ones it does. */
function checkContentEncoding(header: string | undefined): string {
  const coding = (header ?? 'identity').trim().toLowerCase() || 'identity';
  if (!ACCEPTED.has(coding)) {
    throw new ScimError(
      415,
      undefined,
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
  const parse = express.json({ type: JSON_TYPES, limit: limits.maxBodyBytes, strict: false });
  return (req, res, next) => {
    const coding = checkContentEncoding(req.get('content-encoding'));
    parse(req, res, (error?: unknown) => {
      if (error) {
        const e = error as { type?: string };
        if (coding !== 'identity' && !(e.type && KNOWN_PARSER_ERRORS.has(e.type))) {
          next(invalidSyntax(`The request body is not valid ${coding} data, though Content-Encoding says so; compress it with ${coding} or drop the header`));
          return;
        }
        next(error);
        return;
      }
      try {
        if (req.body !== undefined) checkJsonValue(req.body, limits.maxJsonDepth);
      } catch (refusal) {
        next(refusal);
        return;
      }
      next();
    });
  };
}
