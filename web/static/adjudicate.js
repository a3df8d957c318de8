// Adjudication: a team's key settles the first open disagreement (the page then reloads
// with the next one first); clicking any team button works for every mail.
"use strict";

(() => {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (!/^[1-9]$/.test(event.key)) return;
    const current = document.querySelector("form.disagreement.current");
    if (!current) return;
    const button = current.querySelector(`button[data-hotkey="${event.key}"]`);
    if (!button) return;
    event.preventDefault();
    current.requestSubmit(button);
  });
})();
