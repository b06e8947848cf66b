/** Small renderers the pages share: values, before/after changes, journal links, tags. */
import type { AttributeChange } from '../../lib/document-diff.js';
import { html, type Html } from '../html.js';

/** A stored value as readable text: strings as they are, everything else as compact JSON. */
export function valueText(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The attribute name without its schema URN (the URN is shown where it matters). */
export const shortPath = (path: string): string => path.replace(/^urn:ietf:params:scim:schemas:extension:[^:]+:2\.0:User:/, '');

/** A table of changed paths with before (struck) and after (inserted): readable without colour. */
export function changesTable(changes: readonly AttributeChange[], caption: string): Html {
  if (changes.length === 0) return html`<p class="muted">No attribute changes recorded.</p>`;
  return html`<table><caption>${caption}</caption><thead><tr><th scope="col">Attribute</th><th scope="col">Before</th><th scope="col">After</th></tr></thead><tbody>${changes.map(
    (c) => html`<tr><td><code>${shortPath(c.path)}</code></td><td>${'before' in c ? html`<del>${valueText(c.before)}</del>` : html`<span class="muted">—</span>`}</td><td>${'after' in c ? html`<ins>${valueText(c.after)}</ins>` : html`<span class="muted">—</span>`}</td></tr>`,
  )}</tbody></table>`;
}

export const entryLink = (id: number, text?: string): Html => html`<a href="/console/journal/${id}">${text ?? `#${id}`}</a>`;

export const tag = (text: string, kind?: 'good' | 'bad' | 'warn'): Html => html`<span class="tag${kind ? ` ${kind}` : ''}">${text}</span>`;

export function resourceLink(type: string | null, id: string | null, name: string | null): Html | string {
  if (!type || !id) return '—';
  const base = type === 'User' ? '/console/people/' : '/console/groups/';
  return html`<a href="${base}${id}">${name ?? id}</a> <span class="muted">${type}</span>`;
}
