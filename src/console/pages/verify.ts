/**
 * Journal verification for auditors: runs `verifyJournal` (what `roster journal verify` runs)
 * and journals its result as `journal.verified`, so the console shows the last verification, who
 * ran it and the head it reached, beside the signed checkpoints retention left.
 */
import type { Knex } from 'knex';
import { appendJournal } from '../../journal/append.js';
import { listCheckpoints } from '../../journal/checkpoint.js';
import type { Actor } from '../../journal/entry.js';
import { verifyJournal } from '../../journal/verify.js';
import { html, type Html } from '../html.js';
import { csrfField, notice, time } from '../layout.js';
import type { ConsoleSession } from '../session-store.js';
import { entryLink } from './render.js';

interface VerifiedSummary {
  ok: boolean;
  checked: number;
  head: { seq: number; hash: string };
  startedAfterSeq: number;
  finding: string | null;
}

/** Runs the verification and journals its outcome; returns the summary journaled. */
export async function verifyAndRecord(db: Knex, actor: Actor, keySecret: string | undefined): Promise<VerifiedSummary> {
  const report = await verifyJournal(db, { keySecret });
  const summary: VerifiedSummary = { ok: report.ok, checked: report.checked, head: report.head, startedAfterSeq: report.startedAfter.seq, finding: report.finding?.message ?? null };
  await db.transaction((tx) => appendJournal(tx, actor, [{ action: 'journal.verified', changes: summary }]));
  return summary;
}

export async function verifyBody(db: Knex, session: ConsoleSession, canVerify: boolean): Promise<Html> {
  const [last, checkpoints] = await Promise.all([
    db('journal').select('id', 'at', 'actor', 'changes').where({ action: 'journal.verified' }).orderBy('id', 'desc').first() as Promise<{ id: number; at: Date; actor: string; changes: VerifiedSummary } | undefined>,
    listCheckpoints(db),
  ]);
  const result = last
    ? notice(
        last.changes.ok ? 'ok' : 'error',
        html`Last verification ${time(last.at)} by ${last.actor} (${entryLink(last.id)}): ${last.changes.ok ? `intact, ${last.changes.checked} entries checked` : `BROKEN: ${last.changes.finding ?? ''}`}; head position ${last.changes.head.seq}, hash <code>${last.changes.head.hash}</code>`,
      )
    : html`<p>The journal has not been verified from the console yet (<code>npm run roster -- journal verify</code> checks it from the command line).</p>`;
  const run = canVerify
    ? html`<form method="post" action="/console/journal/verify">${csrfField(session)}<button type="submit">Verify the journal now</button> <span class="muted">walks the whole chain from the newest checkpoint; a large journal takes a while</span></form>`
    : html`<p class="muted">Running a verification needs the auditor role.</p>`;
  const table = checkpoints.length
    ? html`<table><caption>Signed checkpoints (left by retention)</caption><thead><tr><th scope="col">Through position</th><th scope="col">Through</th><th scope="col">Entries removed</th><th scope="col">Hash</th></tr></thead><tbody>${checkpoints.map(
        (c) => html`<tr><td>${c.throughSeq}</td><td>${time(c.throughAt)}</td><td>${c.entriesRemoved}</td><td><code>${c.throughHash}</code></td></tr>`,
      )}</tbody></table>`
    : html`<p>No checkpoints: no entries have been purged, so verification starts at the first entry.</p>`;
  return html`${result}${run}<h2>Checkpoints</h2>${table}<p class="muted">Write the head hash down outside this database: a later verification that reaches it proves nothing before it changed.</p>`;
}
