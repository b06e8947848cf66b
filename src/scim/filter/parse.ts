/**
 * Parser for SCIM filters (RFC 7644 §3.4.2.2, Figure 1) and PATCH paths (§3.5.2, Figure 7).
 *
 * Why our own parser instead of scimmy's (1.3.5), which we otherwise use for schemas:
 *  - it parses `not (A or B)` as `not A or not B`, which silently widens a query;
 *  - it rejects escaped quotes in string literals (`"a\"b"`), so some valid values cannot be searched;
 *  - it expands filters into disjunctive normal form, which is exponential: 16 OR-groups joined by
 *    `and` took about 3 s of CPU per request, an easy denial of service from one query string.
 * This is a small recursive-descent parser whose cost is linear in the input, with hard limits on
 * length, comparisons and nesting that are checked before or while parsing, never after.
 *
 * Grammar, as implemented (keywords and operators case-insensitive, precedence not > and > or):
 *   FILTER    = OR
 *   OR        = AND *("or" AND)
 *   AND       = UNARY *("and" UNARY)
 *   UNARY     = "not" "(" OR ")" / "(" OR ")" / attrPath "[" OR "]" / attrExp
 *   attrExp   = attrPath "pr" / attrPath compareOp compValue
 *   compValue = JSON string / JSON number / true / false / null
 *   attrPath  = [URN ":"] ATTRNAME ["." ATTRNAME]
 * Inside `[ … ]` another `[` is rejected (the RFC has no nested value paths).
 */
import { stringProblem } from '../text-rules.js';
import { invalidFilter, invalidPath, type ScimError } from '../errors.js';
import { COMPARE_OPS, type CompareOp, type FilterNode, type FilterValue, type PatchPath } from './ast.js';

export type { FilterNode, PatchPath } from './ast.js';

/** Longest filter text accepted, in characters. */
export const MAX_FILTER_LENGTH = 2048;
/** Most attribute expressions (comparisons and `pr`) in one filter. */
export const MAX_FILTER_COMPARISONS = 64;
/** Deepest nesting of `( … )` and `[ … ]` groups. */
export const MAX_FILTER_DEPTH = 16;

type TokenKind = 'word' | 'string' | '(' | ')' | '[' | ']' | 'end';

interface Token {
  kind: TokenKind;
  /** Source text of the token (for a string: including the quotes). */
  text: string;
  /** 0-based offset in the input. */
  pos: number;
  /** Decoded value of a string literal. */
  value?: string;
}

/** Attribute names per RFC 7643 §2.1 (ALPHA *(nameChar)), plus `$ref`. */
const ATTR_NAME = /^(?:\$ref|[A-Za-z][A-Za-z0-9_-]*)$/;
/** The URN part of a path: what SCIM schema URNs are made of. */
const URN_PREFIX = /^urn:[A-Za-z0-9][A-Za-z0-9:._-]*$/i;
/** A JSON number (RFC 8259 §6). */
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const LOGICAL = new Set(['and', 'or', 'not']);
const SPACE = /\s/;

type ErrorFactory = (detail: string) => ScimError;

function describe(token: Token): string {
  if (token.kind === 'end') return 'the end of the filter';
  return token.kind === 'string' ? `the string ${token.text}` : `"${token.text}"`;
}

function at(pos: number): string {
  return `at position ${pos + 1}`;
}

/** Splits the input into tokens. Linear; the input is already known to be at most MAX_FILTER_LENGTH long. */
function tokenize(text: string, fail: ErrorFactory): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (SPACE.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      tokens.push({ kind: c, text: c, pos: i });
      i++;
    } else if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length) throw fail(`unterminated string starting ${at(start)}: add the closing double quote`);
      i++;
      const raw = text.slice(start, i);
      let value: string;
      try {
        // JSON.parse decodes exactly the JSON escapes (\" \\ \/ \b \f \n \r \t \uXXXX) and rejects raw control characters.
        value = JSON.parse(raw) as string;
      } catch {
        throw fail(
          `invalid string ${at(start)}: strings follow JSON rules (escapes \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX, no raw control characters)`,
        );
      }
      // A JSON escape can spell what the edge refuses in raw text (\u0000, a lone \ud800).
      const problem = stringProblem(value);
      if (problem) throw fail(`the string ${at(start)} ${problem}`);
      tokens.push({ kind: 'string', text: raw, pos: start, value });
    } else {
      const start = i;
      while (i < text.length && !SPACE.test(text[i]!) && !'()[]"'.includes(text[i]!)) i++;
      tokens.push({ kind: 'word', text: text.slice(start, i), pos: start });
    }
  }
  tokens.push({ kind: 'end', text: '', pos: text.length });
  return tokens;
}

/**
 * Checks an attribute path's shape: `name`, `name.sub`, `urn:…:name`, `urn:…:name.sub`. A URN
 * contains dots (`2.0`) and colons, so the attribute name starts after the last colon.
 */
function checkAttrPath(token: Token, fail: ErrorFactory): string {
  const text = token.text;
  const colon = text.lastIndexOf(':');
  const urn = colon >= 0 ? text.slice(0, colon) : undefined;
  const names = text.slice(colon + 1).split('.');
  const valid = (urn === undefined || URN_PREFIX.test(urn)) && names.length <= 2 && names.every((name) => ATTR_NAME.test(name));
  if (!valid) {
    throw fail(
      `invalid attribute path "${text}" ${at(token.pos)}: expected an attribute name such as userName, ` +
        `a sub-attribute such as name.givenName, or a schema URN prefix such as ` +
        `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`,
    );
  }
  return text;
}

class Parser {
  private index = 0;
  private depth = 0;
  private comparisons = 0;
  private inValuePath = false;

  constructor(
    private readonly tokens: Token[],
    private readonly fail: ErrorFactory,
  ) {}

  peek(): Token {
    return this.tokens[this.index]!;
  }

  next(): Token {
    const token = this.tokens[this.index]!;
    if (token.kind !== 'end') this.index++;
    return token;
  }

  isKeyword(token: Token, keyword: string): boolean {
    return token.kind === 'word' && token.text.toLowerCase() === keyword;
  }

  /** Opens a `(` or `[` group, enforcing the nesting limit before descending. */
  open(token: Token): void {
    this.depth++;
    if (this.depth > MAX_FILTER_DEPTH) {
      throw invalidFilter(`filter nests deeper than ${MAX_FILTER_DEPTH} levels of parentheses or brackets ${at(token.pos)}`);
    }
  }

  close(kind: ')' | ']', opener: Token): void {
    const token = this.next();
    if (token.kind !== kind) {
      throw this.fail(`expected "${kind}" to close "${opener.text}" opened ${at(opener.pos)}, found ${describe(token)} ${at(token.pos)}`);
    }
    this.depth--;
  }

  parseOr(): FilterNode {
    let left = this.parseAnd();
    while (this.isKeyword(this.peek(), 'or')) {
      this.next();
      left = { kind: 'or', left, right: this.parseAnd() };
    }
    return left;
  }

  parseAnd(): FilterNode {
    let left = this.parseUnary();
    while (this.isKeyword(this.peek(), 'and')) {
      this.next();
      left = { kind: 'and', left, right: this.parseUnary() };
    }
    return left;
  }

  parseUnary(): FilterNode {
    const previous = this.tokens[this.index - 1];
    const token = this.next();
    if (token.kind === '(') {
      this.open(token);
      const inner = this.parseOr();
      this.close(')', token);
      return inner;
    }
    if (this.isKeyword(token, 'not')) {
      const paren = this.next();
      if (paren.kind !== '(') {
        throw this.fail(`expected "(" after "not" ${at(paren.pos)}, found ${describe(paren)}: write not (expression)`);
      }
      this.open(paren);
      const operand = this.parseOr();
      this.close(')', paren);
      return { kind: 'not', operand };
    }
    if (token.kind !== 'word' || LOGICAL.has(token.text.toLowerCase())) {
      const after = previous ? ` after ${describe(previous)}` : '';
      throw this.fail(`expected an attribute path, "not" or "("${after} ${at(token.pos)}, found ${describe(token)}`);
    }
    const path = checkAttrPath(token, this.fail);
    if (this.peek().kind === '[') return this.parseValuePath(path, this.next());
    return this.parseAttrExp(path, token);
  }

  parseValuePath(path: string, bracket: Token): FilterNode {
    if (this.inValuePath) {
      throw this.fail(`nested "[" ${at(bracket.pos)}: a value filter cannot contain another value filter`);
    }
    this.open(bracket);
    this.inValuePath = true;
    const filter = this.parseOr();
    this.inValuePath = false;
    this.close(']', bracket);
    return { kind: 'valuePath', path, filter };
  }

  parseAttrExp(path: string, pathToken: Token): FilterNode {
    this.comparisons++;
    if (this.comparisons > MAX_FILTER_COMPARISONS) {
      throw invalidFilter(`filter has more than ${MAX_FILTER_COMPARISONS} comparisons (limit reached ${at(pathToken.pos)})`);
    }
    const opToken = this.next();
    const op = opToken.kind === 'word' ? opToken.text.toLowerCase() : '';
    if (op === 'pr') return { kind: 'present', path };
    if (!(COMPARE_OPS as readonly string[]).includes(op)) {
      throw this.fail(
        `expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after "${path}" ${at(opToken.pos)}, found ${describe(opToken)}`,
      );
    }
    return { kind: 'compare', path, op: op as CompareOp, value: this.parseValue(op) };
  }

  parseValue(op: string): FilterValue {
    const token = this.next();
    if (token.kind === 'string') return token.value!;
    if (token.kind === 'word') {
      const lower = token.text.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      if (lower === 'null') return null;
      if (JSON_NUMBER.test(token.text)) return Number(token.text);
      throw this.fail(
        `unquoted value ${describe(token)} ${at(token.pos)}: string values must be in double quotes, e.g. "${token.text}"`,
      );
    }
    throw this.fail(`expected a value (a "quoted string", number, true, false or null) after "${op}" ${at(token.pos)}, found ${describe(token)}`);
  }

  expectEnd(): void {
    const token = this.peek();
    if (token.kind === 'end') return;
    if (token.kind === ')' || token.kind === ']') {
      throw this.fail(`unexpected "${token.text}" ${at(token.pos)}: there is no matching "${token.kind === ')' ? '(' : '['}"`);
    }
    throw this.fail(`expected "and", "or" or the end of the filter ${at(token.pos)}, found ${describe(token)}`);
  }
}

function checkLength(text: string, what: string, fail: ErrorFactory): void {
  if (text.length > MAX_FILTER_LENGTH) throw fail(`${what} is ${text.length} characters long; the limit is ${MAX_FILTER_LENGTH}`);
  if (text.trim() === '') throw fail(`${what} is empty`);
}

/** Parses a filter expression; throws ScimError 400 invalidFilter with a detail saying where and what was expected. */
export function parseFilter(text: string): FilterNode {
  checkLength(text, 'filter', invalidFilter);
  const parser = new Parser(tokenize(text, invalidFilter), invalidFilter);
  const node = parser.parseOr();
  parser.expectEnd();
  return node;
}

/**
 * Parses a PATCH operation path. A malformed path outside the brackets is 400 invalidPath (RFC 7644
 * §3.12: "the path attribute was invalid or malformed"); a malformed filter inside the brackets is
 * 400 invalidFilter.
 */
export function parsePatchPath(text: string): PatchPath {
  checkLength(text, 'path', invalidPath);
  // Tokenizing can only fail inside a string literal, which only a bracketed filter contains.
  // The grammar (RFC 7644 §3.5.2, Figure 7) has spaces only inside the filter of a value path;
  // a space around the attribute path or the brackets was trimmed away before, and is refused now.
  if (SPACE.test(text[0] ?? '') || SPACE.test(text[text.length - 1] ?? '')) {
    throw invalidPath('path must not start or end with a space; remove the spaces around it');
  }
  const tokens = tokenize(text, invalidFilter);
  const first = tokens[0]!;
  if (first.kind !== 'word') throw invalidPath(`path must start with an attribute name ${at(first.pos)}, found ${describe(first)}`);
  const attribute = checkAttrPath(first, invalidPath);
  const second = tokens[1]!;
  if (second.kind === 'end') return { attribute };
  if (second.kind !== '[') throw invalidPath(`unexpected ${describe(second)} ${at(second.pos)} after the attribute path "${attribute}"`);
  if (second.pos !== first.pos + first.text.length) throw invalidPath(`a space ${at(first.pos + first.text.length)} separates "${attribute}" from "["; remove it`);

  const parser = new Parser(tokens, invalidFilter);
  parser.next();
  const node = parser.parseValuePath(attribute, parser.next());
  if (node.kind !== 'valuePath') throw new Error('unreachable');
  const result: PatchPath = { attribute, filter: node.filter };
  const rest = parser.next();
  if (rest.kind === 'end') return result;
  const closing = tokens[tokens.indexOf(rest) - 1]!;
  if (rest.pos !== closing.pos + 1) throw invalidPath(`a space ${at(closing.pos + 1)} separates "]" from what follows; remove it`);
  const name = rest.kind === 'word' && rest.text.startsWith('.') ? rest.text.slice(1) : undefined;
  if (name === undefined || !ATTR_NAME.test(name) || parser.peek().kind !== 'end') {
    throw invalidPath(`unexpected ${describe(rest)} ${at(rest.pos)}: after "]" only a sub-attribute such as .value may follow`);
  }
  result.subAttribute = name;
  return result;
}
