/**
 * The documentation cannot rot silently:
 * - every relative link in the repository's Markdown reaches an existing file, and a `#fragment`
 *   an existing heading of that file, by GitHub's anchor rules (github-slugger: lowercase, spaces
 *   to '-', punctuation other than '-' and '_' dropped, '-1', '-2' … for repeated headings);
 * - every environment variable Roster reads is documented in docs/operations.md and .env.example.
 * The checkers are also run on planted mistakes, so that this file cannot pass by checking nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import { lexer, walkTokens, type Token, type Tokens } from 'marked';
import { ENVIRONMENT_VARIABLES } from '../src/config/env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

// --- links -----------------------------------------------------------------------------------

/**
 * Markdown files of the repository: tracked, or new and not ignored (node_modules, .roster-data …).
 * Outside a git checkout (an unpacked archive), every .md file but those of ignored folders.
 */
function markdownFiles(root: string): string[] {
  let listed: string[];
  try {
    listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.md'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\0');
  } catch {
    listed = walk(root, new Set(['.git', 'node_modules', 'dist', '.roster-data'])).filter((file) => file.endsWith('.md'));
  }
  return listed.filter((file) => file !== '' && existsSync(path.join(root, file))).sort();
}

function walk(root: string, skip: Set<string>, dir = ''): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    if (skip.has(entry.name)) return [];
    const relative = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(root, skip, relative) : [relative];
  });
}

/** A URL with a scheme (https:, mailto: …) or protocol-relative: not a file in the repository. */
const isExternal = (href: string) => /^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//');

function plainText(tokens: Token[]): string {
  return tokens.map((token) => ('tokens' in token && token.tokens ? plainText(token.tokens) : 'text' in token ? String(token.text) : '')).join('');
}

interface MarkdownFacts {
  links: { href: string; raw: string }[];
  anchors: Set<string>;
}

const factsCache = new Map<string, MarkdownFacts>();

function markdownFacts(file: string): MarkdownFacts {
  const cached = factsCache.get(file);
  if (cached) return cached;
  const tokens = lexer(readFileSync(file, 'utf8'));
  const slugger = new GithubSlugger();
  const facts: MarkdownFacts = { links: [], anchors: new Set() };
  walkTokens(tokens, (token) => {
    if (token.type === 'heading') facts.anchors.add(slugger.slug(plainText((token as Tokens.Heading).tokens)));
    if (token.type === 'link' || token.type === 'image') facts.links.push({ href: (token as Tokens.Link).href, raw: token.raw });
    // Explicit anchors such as <a id="x"></a> are link targets on GitHub too.
    if (token.type === 'html') for (const match of token.raw.matchAll(/\b(?:id|name)="([^"]+)"/g)) facts.anchors.add(match[1]!);
  });
  factsCache.set(file, facts);
  return facts;
}

function lineOf(file: string, raw: string): number {
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(raw);
  return at < 0 ? 0 : text.slice(0, at).split('\n').length;
}

interface LinkReport {
  problems: string[];
  checkedLinks: number;
  checkedFragments: number;
}

/** Every relative link of `files` (paths relative to `root`) against the files under `root`. */
function checkLinks(root: string, files: string[]): LinkReport {
  const report: LinkReport = { problems: [], checkedLinks: 0, checkedFragments: 0 };
  for (const relative of files) {
    const file = path.join(root, relative);
    for (const { href, raw } of markdownFacts(file).links) {
      if (isExternal(href)) continue;
      report.checkedLinks += 1;
      const where = `${relative}:${lineOf(file, raw)}: ${raw}`;
      const hashAt = href.indexOf('#');
      const target = decodeURIComponent(hashAt < 0 ? href : href.slice(0, hashAt));
      const fragment = hashAt < 0 ? undefined : decodeURIComponent(href.slice(hashAt + 1));
      const targetFile = target === '' ? file : path.resolve(path.dirname(file), target);
      if (!targetFile.startsWith(root + path.sep) && targetFile !== root) {
        report.problems.push(`${where}: points outside the repository`);
        continue;
      }
      if (!existsSync(targetFile)) {
        report.problems.push(`${where}: ${path.relative(root, targetFile)} does not exist`);
        continue;
      }
      if (fragment === undefined || fragment === '') continue;
      report.checkedFragments += 1;
      if (statSync(targetFile).isDirectory() || !targetFile.endsWith('.md')) {
        report.problems.push(`${where}: #${fragment} needs a Markdown file, and ${path.relative(root, targetFile)} is not one`);
        continue;
      }
      if (!markdownFacts(targetFile).anchors.has(fragment)) {
        report.problems.push(`${where}: ${path.relative(root, targetFile) || relative} has no heading with the anchor #${fragment}`);
      }
    }
  }
  return report;
}

// --- environment variables ---------------------------------------------------------------------

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/**
 * The variables Roster reads: every key of src/config/env.ts's schema, plus any ROSTER_* variable
 * read straight from process.env elsewhere in src/ or scripts/ (ROSTER_CURSOR_SECRET,
 * ROSTER_TEST_PG_PORT). Not $USER and the like, which the operating system sets.
 */
function variablesRead(root: string): string[] {
  const direct = ['src', 'scripts'].flatMap((dir) => sourceFiles(path.join(root, dir))).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/process\.env(?:\.|\[\s*['"])(ROSTER_[A-Z0-9_]+)/g)].map((match) => match[1]!),
  );
  return [...new Set([...ENVIRONMENT_VARIABLES, ...direct])].sort();
}

const mentions = (text: string, name: string) => new RegExp(`(?<![A-Za-z0-9_])${name}(?![A-Za-z0-9_])`).test(text);

/** Variables missing from the reference page, and from .env.example (as `NAME=` or `#NAME=`). */
function undocumentedVariables(names: readonly string[], referencePage: string, envExample: string): string[] {
  const problems: string[] = [];
  for (const name of names) {
    if (!mentions(referencePage, name)) problems.push(`${name} is not in docs/operations.md: add a row to its "Environment variables" tables`);
    if (!new RegExp(`^#?\\s*${name}=`, 'm').test(envExample)) problems.push(`${name} is not in .env.example: add "#${name}=<default>" with a comment`);
  }
  return problems;
}

// --- the repository ------------------------------------------------------------------------------

test('every relative link in the Markdown reaches an existing file and heading', () => {
  const files = markdownFiles(ROOT);
  for (const expected of ['README.md', 'docs/operations.md', 'docs/decisions/README.md', 'connectors/README.md']) {
    assert.ok(files.includes(expected), `${expected} is among the checked files`);
  }
  const report = checkLinks(ROOT, files);
  assert.deepEqual(report.problems, [], `broken links:\n${report.problems.join('\n')}`);
  // Guards against a parser change that silently finds no links at all.
  assert.ok(report.checkedLinks >= 100, `only ${report.checkedLinks} relative links were found`);
  assert.ok(report.checkedFragments >= 30, `only ${report.checkedFragments} #fragments were found`);
});

test('every environment variable Roster reads is in docs/operations.md and .env.example', () => {
  const names = variablesRead(ROOT);
  for (const expected of ['DATABASE_URL', 'ROSTER_JOURNAL_KEY', 'ROSTER_CURSOR_SECRET', 'ROSTER_TEST_PG_PORT']) {
    assert.ok(names.includes(expected), `${expected} is among the checked variables`);
  }
  const problems = undocumentedVariables(
    names,
    readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8'),
    readFileSync(path.join(ROOT, '.env.example'), 'utf8'),
  );
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('the README stays an entry page: at most 300 lines, the manuals live in docs/', () => {
  const lines = readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n').length;
  assert.ok(lines <= 300, `README.md has ${lines} lines: move the detail into the topic page under docs/ and link it`);
});

test('every decision record is listed in docs/decisions/README.md', () => {
  const index = readFileSync(path.join(ROOT, 'docs/decisions/README.md'), 'utf8');
  const records = readdirSync(path.join(ROOT, 'docs/decisions')).filter((name) => /^\d{4}-.*\.md$/.test(name));
  assert.ok(records.length >= 30);
  const missing = records.filter((name) => !index.includes(`](${name})`));
  assert.deepEqual(missing, [], `add these records to docs/decisions/README.md: ${missing.join(', ')}`);
});

// --- the checkers on planted mistakes ---------------------------------------------------------------

test('the link check reports a missing file, a missing heading and a fragment into a non-Markdown file', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'roster-docs-'));
  try {
    mkdirSync(path.join(root, 'docs'));
    writeFileSync(path.join(root, 'docs/guide.md'), '# The guide\n\n## Using your own PostgreSQL\n\n## Repeated\n\n## Repeated\n\n<a id="explicit"></a>\n');
    writeFileSync(path.join(root, 'data.yaml'), 'a: 1\n');
    writeFileSync(
      path.join(root, 'README.md'),
      [
        '# Readme',
        '[ok](docs/guide.md#using-your-own-postgresql) [ok](docs/guide.md#repeated-1) [ok](docs/guide.md#explicit)',
        '[ok](#readme) [ok](data.yaml) [ok](docs/) [ok](https://example.com/missing.md)',
        '| table | [ok](docs/guide.md) |',
        '|---|---|',
        '| cell | [broken](docs/missing.md) |',
        '[broken](docs/guide.md#no-such-heading) [broken](data.yaml#a) [broken](#nowhere)',
        '`[not a link](docs/missing.md)`',
        '```',
        '[not a link](docs/missing.md)',
        '```',
      ].join('\n'),
    );
    const report = checkLinks(root, ['README.md', 'docs/guide.md']);
    assert.equal(report.problems.length, 4, report.problems.join('\n'));
    assert.match(report.problems[0]!, /^README\.md:6: .*docs\/missing\.md does not exist/);
    assert.match(report.problems[1]!, /README\.md:7: .*docs\/guide\.md has no heading with the anchor #no-such-heading/);
    assert.match(report.problems[2]!, /data\.yaml is not one/);
    assert.match(report.problems[3]!, /README\.md has no heading with the anchor #nowhere/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the variable check reports a variable missing from the docs or from .env.example', () => {
  const page = '| `ROSTER_DOCUMENTED` | x |\n| `ROSTER_ONLY_IN_DOCS` | y |\nROSTER_PREFIX_ONLY_LONGER\n';
  const example = '#ROSTER_DOCUMENTED=1\nROSTER_ONLY_IN_EXAMPLE=2\n#ROSTER_PREFIX=3\n';
  assert.deepEqual(undocumentedVariables(['ROSTER_DOCUMENTED'], page, example), []);
  const problems = undocumentedVariables(['ROSTER_ONLY_IN_DOCS', 'ROSTER_ONLY_IN_EXAMPLE', 'ROSTER_PREFIX'], page, example);
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems[0]!, /^ROSTER_ONLY_IN_DOCS is not in \.env\.example/);
  assert.match(problems[1]!, /^ROSTER_ONLY_IN_EXAMPLE is not in docs\/operations\.md/);
  // A longer name that starts with it does not count as documenting it.
  assert.match(problems[2]!, /^ROSTER_PREFIX is not in docs\/operations\.md/);
});
