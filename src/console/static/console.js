// Roster ops console: small enhancements only; every page works without this file.
// Forms marked data-confirm ask before they submit (retry, approve: actions on live systems).
document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.getAttribute('data-confirm');
  if (question && !window.confirm(question)) event.preventDefault();
});

// A running task's page (src/console/pages/task.ts): the bar follows the task's JSON status; when
// the task ends the page reloads to show its report. Without this script the page reloads itself.
const task = document.querySelector('[data-task-status]');
if (task) {
  const url = task.getAttribute('data-task-status');
  const bar = document.getElementById('task-progress');
  const phase = document.getElementById('task-phase');
  const counts = document.getElementById('task-counts');
  const poll = async () => {
    try {
      const response = await window.fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (!response.ok) return window.location.reload();
      const status = await response.json();
      if (status.state !== 'running') return window.location.reload();
      phase.textContent = `${status.phase}…`;
      if (status.total > 0) {
        bar.max = status.total;
        bar.value = status.done;
        counts.textContent = `${status.done.toLocaleString('en')} of ${status.total.toLocaleString('en')}`;
      } else {
        bar.removeAttribute('value');
        counts.textContent = status.done > 0 ? status.done.toLocaleString('en') : '';
      }
    } catch {
      // A failed poll (Roster restarting, the network) is tried again below.
    }
    window.setTimeout(poll, 1000);
  };
  window.setTimeout(poll, 500);
}
