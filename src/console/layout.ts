/**
 * The page shell every console page shares: landmarks (header with navigation, main, footer), a
 * skip link, the signed-in person with sign-out, and the one stylesheet and script Roster serves.
 */
import { html, type Fragment, type Html } from './html.js';
import type { ConsoleSession } from './session-store.js';

export const NAV = [
  { path: '/console', label: 'Overview' },
  { path: '/console/people', label: 'People' },
  { path: '/console/groups', label: 'Groups' },
  { path: '/console/journal', label: 'Journal' },
  { path: '/console/connectors', label: 'Connectors' },
  { path: '/console/policy', label: 'Policy' },
  { path: '/console/import', label: 'HR import' },
  { path: '/console/requests', label: 'Requests' },
  { path: '/console/reviews', label: 'Reviews' },
  { path: '/console/ledger', label: 'Ledger' },
] as const;

export interface PageOptions {
  title: string;
  session?: ConsoleSession | undefined;
  /** The NAV path this page belongs to (marked aria-current). */
  section?: string;
  body: Fragment;
  /** Reload the page every so many seconds when JavaScript is off (a running task's status page). */
  reloadWithoutScript?: number | undefined;
}

/** A hidden form field carrying the session's CSRF token; every POST form includes it. */
export const csrfField = (session: ConsoleSession): Html => html`<input type="hidden" name="_csrf" value="${session.csrfToken}">`;

export function page({ title, session, section, body, reloadWithoutScript }: PageOptions): Html {
  // Someone who may only request access (the requester role) sees only the page they can use.
  const sections = session?.roles.some((r) => r !== 'requester') ? NAV : NAV.filter((item) => item.path === '/console/requests');
  const nav = session
    ? html`<nav aria-label="Console sections"><ul>${sections.map(
        (item) => html`<li><a href="${item.path}"${section === item.path ? html` aria-current="page"` : ''}>${item.label}</a></li>`,
      )}</ul></nav>
      <div class="who"><span>${session.displayName} <span class="muted">(${session.roles.join(', ')})</span></span>
        <form method="post" action="/console/sign-out">${csrfField(session)}<button type="submit">Sign out</button></form></div>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Roster console</title>
<link rel="stylesheet" href="/console/static/console.css">
<script src="/console/static/console.js" defer></script>
${reloadWithoutScript ? html`<noscript><meta http-equiv="refresh" content="${reloadWithoutScript}"></noscript>` : ''}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/console">Roster</a>${nav}</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

export const notice = (kind: 'ok' | 'error' | 'info', text: Fragment): Html =>
  html`<div class="notice${kind === 'info' ? '' : ` ${kind}`}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</div>`;

/** A time as ISO text in a <time> element (readable, and exact for copy and paste). */
export const time = (value: string | Date | null | undefined): Html | string => {
  if (!value) return '—';
  const iso = typeof value === 'string' ? value : value.toISOString();
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
};
