/**
 * A long action's status page (src/console/tasks.ts): while it runs, a <progress> bar with the
 * phase and counts, updated by console.js from the JSON status (taskStatus) and, without
 * JavaScript, by the page reloading itself; once finished, the action's report (the same one the
 * page showed when these actions ran in the request), or its error with what to do next.
 */
import { html, type Html } from '../html.js';
import { notice, time } from '../layout.js';
import type { ConsoleTask } from '../tasks.js';

/** Seconds between reloads of a running task's page when JavaScript is off. */
export const RELOAD_SECONDS = 2;

/** What the status endpoint answers (console.js reads it). */
export function taskStatus(task: ConsoleTask): Record<string, unknown> {
  return {
    state: task.state,
    phase: task.phase,
    done: task.done,
    total: task.total,
    percent: task.total > 0 ? Math.min(100, Math.round((task.done / task.total) * 100)) : null,
  };
}

const counts = (task: ConsoleTask) => (task.total > 0 ? `${task.done.toLocaleString('en')} of ${task.total.toLocaleString('en')}` : task.done > 0 ? task.done.toLocaleString('en') : '');

export function taskBody(task: ConsoleTask, report: (result: unknown) => Html): Html {
  const started = html`<p class="muted">Started by ${task.startedBy} at ${time(task.startedAt)} · request ${task.requestId}</p>`;
  if (task.state === 'done') return html`${started}${report(task.result)}`;
  if (task.state === 'failed') return html`${started}${notice('error', html`Did not finish: ${task.error ?? 'no reason recorded'}`)}${again(task)}`;
  if (task.state === 'interrupted') {
    return html`${started}${notice('error', `Interrupted: the Roster process running it stopped at "${task.phase}" (${counts(task) || 'no count yet'}). What was written before it stopped stays written and is in the journal under request ${task.requestId}. Start it again: a sync or an import that is run twice only does what is still missing.`)}${again(task)}`;
  }
  return html`${started}
    <div class="task" data-task-status="/console/tasks/${task.id}/status">
      <label for="task-progress" id="task-phase">${task.phase}…</label>
      ${task.total > 0 ? html`<progress id="task-progress" max="${task.total}" value="${task.done}">${counts(task)}</progress>` : html`<progress id="task-progress">working</progress>`}
      <p id="task-counts" aria-live="polite">${counts(task)}</p>
    </div>
    <p class="muted">It runs on if you leave this page; this address shows its report when it ends. This page updates itself (every ${RELOAD_SECONDS} s without JavaScript).</p>`;
}

function again(task: ConsoleTask): Html {
  return task.kind === 'sync' ? html`<p><a href="/console/connectors">Back to the connectors</a></p>` : html`<p><a href="/console/import">Upload the file again</a></p>`;
}
