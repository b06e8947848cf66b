/**
 * Which strings Roster accepts anywhere (a value, a name, a filter literal, an id): no NUL (U+0000),
 * which PostgreSQL's text and jsonb cannot hold, and no unpaired UTF-16 surrogate, which is not
 * Unicode (PostgreSQL would keep a replacement character, so the answer would differ from what
 * was stored). The edge (src/http/input-rules.ts) applies it to raw input; the filter parser to
 * string literals, whose JSON escapes can spell both.
 */

/** A high surrogate not followed by a low one, or a low one not preceded by a high one (code units, no `u` flag). */
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with a string, as the end of a sentence, or undefined when it may be stored. */
export function stringProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (U+0000), which Roster does not store; remove it';
  if (UNPAIRED_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode; send well-formed UTF-8 text';
  return undefined;
}
