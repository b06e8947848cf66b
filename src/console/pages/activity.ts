/**
 * The overview's charts: changes per hour by source as an SVG bar chart (drawn on the server; no
 * script, no inline style: bar sizes and colours are SVG attributes), with the same numbers in a
 * table for screen readers and for reading without colour; and push outcomes per connector.
 */
import type { HourCount, PushOutcomeCount } from '../../journal/activity.js';
import { html, type Html } from '../html.js';

const COLOURS = ['#0b5cad', '#116329', '#a40e26', '#7d4e00', '#6639ba', '#1b7c83', '#57606a', '#bf3989', '#4d2d00'];

export function changesChart(counts: readonly HourCount[], hours: number, now = new Date()): Html {
  const sources = [...new Set(counts.map((c) => c.source))].sort();
  const start = new Date(now);
  start.setUTCMinutes(0, 0, 0);
  start.setUTCHours(start.getUTCHours() - (hours - 1));
  const slots = Array.from({ length: hours }, (_, i) => new Date(start.getTime() + i * 3_600_000));
  const bySlot = new Map<number, Map<string, number>>();
  for (const c of counts) {
    const key = new Date(c.hour).getTime();
    const slot = bySlot.get(key) ?? new Map<string, number>();
    slot.set(c.source, c.count);
    bySlot.set(key, slot);
  }
  const totals = slots.map((s) => [...(bySlot.get(s.getTime())?.values() ?? [])].reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const width = 720;
  const height = 160;
  const barWidth = width / hours;
  const bars = slots.map((slot, i) => {
    let y = height;
    const parts = sources.map((source, j) => {
      const n = bySlot.get(slot.getTime())?.get(source) ?? 0;
      if (n === 0) return '';
      const h = (n / max) * (height - 10);
      y -= h;
      return html`<rect x="${(i * barWidth + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLOURS[j % COLOURS.length]!}"><title>${slot.toISOString().slice(11, 16)} UTC: ${n} ${source}</title></rect>`;
    });
    return parts;
  });
  const legend = sources.map((s, j) => html`<span class="legend"><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="${COLOURS[j % COLOURS.length]!}"></rect></svg> ${s}</span> `);
  const total = totals.reduce((a, b) => a + b, 0);
  return html`<figure><svg role="img" aria-labelledby="changes-title" viewBox="0 0 ${width} ${height}" width="100%" height="${height}" preserveAspectRatio="none"><title id="changes-title">Journal entries per hour over the last ${hours} hours: ${total} in all</title>${bars}</svg>
    <figcaption>Journal entries per hour, last ${hours} hours (UTC, oldest on the left) by source: ${legend.length ? legend : 'no entries'}</figcaption></figure>
    <details><summary>The numbers</summary><table><caption>Entries per hour by source</caption><thead><tr><th scope="col">Hour (UTC)</th>${sources.map((s) => html`<th scope="col">${s}</th>`)}</tr></thead><tbody>${slots
      .filter((_, i) => totals[i]! > 0)
      .map((slot) => html`<tr><th scope="row">${slot.toISOString().slice(0, 13).replace('T', ' ')}:00</th>${sources.map((s) => html`<td>${bySlot.get(slot.getTime())?.get(s) ?? 0}</td>`)}</tr>`)}</tbody></table></details>`;
}

export function outcomesTable(rows: readonly PushOutcomeCount[], hours: number): Html {
  if (rows.length === 0) return html`<p>No pushes in the last ${hours} hours.</p>`;
  return html`<table><caption>Pushes per connector and outcome, last ${hours} hours</caption><thead><tr><th scope="col">Connector</th><th scope="col">Outcome</th><th scope="col">Requests</th><th scope="col">Latency p95</th></tr></thead><tbody>${rows.map(
    (r) => html`<tr><td><a href="/console/connectors/${encodeURIComponent(r.connector)}">${r.connector}</a></td><td>${r.outcome}</td><td>${r.count}</td><td>${r.p95LatencyMs === null ? '—' : `${r.p95LatencyMs} ms`}</td></tr>`,
  )}</tbody></table>`;
}
