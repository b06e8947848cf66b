/**
 * Typed HTML templates: `html\`<p>${value}</p>\`` escapes every interpolated value unless it is
 * already Html (another template, or `raw` for text Roster itself wrote). Pages are plain
 * functions from typed data to Html, so TypeScript checks each page's data and nothing reaches
 * the browser unescaped by accident (docs/decisions/0500-console-server-rendered-html.md).
 */

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** A value a template accepts: text and numbers are escaped; lists are joined; nullish and false are nothing. */
export type Fragment = Html | string | number | null | undefined | false | readonly Fragment[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(fragment: Fragment): string {
  if (fragment === null || fragment === undefined || fragment === false) return '';
  if (fragment instanceof Html) return fragment.text;
  if (Array.isArray(fragment)) return fragment.map(render).join('');
  return escapeHtml(String(fragment as string | number));
}

export function html(strings: TemplateStringsArray, ...values: Fragment[]): Html {
  let text = strings[0]!;
  values.forEach((value, i) => {
    text += render(value) + strings[i + 1]!;
  });
  return new Html(text);
}

/** Markup Roster wrote itself (never user or directory data). */
export const raw = (text: string): Html => new Html(text);

/** A query string from parameters, leaving out empty ones (for links that keep the filters). */
export function queryString(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
