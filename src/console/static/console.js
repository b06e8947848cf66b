// Roster ops console: small enhancements only; every page works without this file.
// Forms marked data-confirm ask before they submit (retry, approve: actions on live systems).
document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const question = form.getAttribute('data-confirm');
  if (question && !window.confirm(question)) event.preventDefault();
});
