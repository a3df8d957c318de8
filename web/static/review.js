// Review keys: Enter sends the mail to the model's first choice, a team's key sends it to
// that team, g then a key (or Enter) does it for every look-alike, h switches to the HTML
// view, n passes over the mail, ? shows the keys. Each is a plain form post; the server
// queues the forward.
"use strict";

(() => {
  const decide = document.getElementById("decide-form");
  const group = document.getElementById("group-form");
  const armed = document.getElementById("group-armed");
  let groupMode = false;

  const setGroupMode = (on) => {
    groupMode = on && Boolean(group);
    if (armed) armed.hidden = !groupMode;
  };

  const submit = (form, selector) => {
    const button = form && form.querySelector(selector);
    if (!button) return false;
    document.body.classList.add("busy");
    form.requestSubmit(button);
    return true;
  };

  const toggleHtml = () => {
    const frame = document.getElementById("html-view");
    const text = document.getElementById("text-view");
    if (!frame || !text) return;
    const showHtml = frame.hidden;
    frame.hidden = !showHtml;
    text.hidden = showHtml;
    document.getElementById("tab-html")?.setAttribute("aria-selected", String(showHtml));
    document.getElementById("tab-text")?.setAttribute("aria-selected", String(!showHtml));
  };
  document.getElementById("tab-html")?.addEventListener("click", () => { if (document.getElementById("html-view")?.hidden) toggleHtml(); });
  document.getElementById("tab-text")?.addEventListener("click", () => { if (document.getElementById("text-view")?.hidden) toggleHtml(); });

  const help = document.getElementById("help");
  const toggleHelp = () => {
    if (!help) return;
    if (help.open) help.close();
    else help.showModal();
  };
  document.getElementById("help-button")?.addEventListener("click", toggleHelp);

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
    if (event.key === "?") {
      toggleHelp();
      event.preventDefault();
      return;
    }
    if (help && help.open) return; // the dialog closes itself on Esc
    if (!decide) return;
    const form = groupMode ? group : decide;
    let handled = false;
    if (event.key === "Enter") {
      handled = submit(form, "button[data-suggested]");
    } else if (/^[1-9]$/.test(event.key)) {
      handled = submit(form, `button[data-hotkey="${event.key}"]`);
    } else if (event.key === "g") {
      const alone = document.getElementById("no-group");
      if (alone) alone.hidden = false; // nothing to arm: say so rather than stay silent
      setGroupMode(!groupMode);
      handled = true;
    } else if (event.key === "Escape") {
      setGroupMode(false);
      handled = true;
    } else if (event.key === "h") {
      toggleHtml();
      handled = true;
    } else if (event.key === "0" && !groupMode) {
      handled = submit(document.getElementById("no-team-form"), "#no-team");
    } else if (event.key === "n") {
      handled = submit(document.getElementById("pass-form"), "#pass");
    }
    if (handled) event.preventDefault();
  });
})();
