// The labelling page: one mail at a time, one key per label, the next mail without a reload.
//
// Mail content only ever reaches the DOM through textContent, never parsed as markup; the
// mail's HTML goes into the sandboxed iframe's srcdoc, already sanitised by the server.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  // The page's words in the person's language (web/i18n.py), {name} filled in by t().
  const STRINGS = JSON.parse($("strings").dataset.strings);
  const t = (key, values = {}) =>
    STRINGS[key].replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

  const teamButtons = Array.from(document.querySelectorAll("button.team"));
  const teamByKey = new Map();
  const teamName = new Map();
  const slugById = new Map();
  for (const button of teamButtons) {
    slugById.set(Number(button.dataset.teamId), button.dataset.slug);
    if (button.dataset.hotkey) teamByKey.set(button.dataset.hotkey, button);
    teamName.set(Number(button.dataset.teamId), button.querySelector(".team-name").textContent);
  }

  const orderSelect = $("order");
  const state = {
    message: null,
    suggestion: null,
    verifying: false,
    busy: false,
    groupArmed: false,
    // The second, optional judgement, sent with the team key: urgent (d), wants to leave (o).
    flags: { urgent: false, churn: false },
    view: "text",
    // A labeller's own choice wins; otherwise the server's default (most uncertain first once
    // a model has scored the mail).
    order: localStorage.getItem("mailroom.order") || orderSelect.dataset.default || "oldest",
    // A random queue stays the same for this tab, so a reload does not reshuffle it.
    seed: Number(sessionStorage.getItem("mailroom.seed")) || Math.floor(Math.random() * 2 ** 31),
  };
  sessionStorage.setItem("mailroom.seed", String(state.seed));
  if (Array.from(orderSelect.options).some((o) => o.value === state.order)) {
    orderSelect.value = state.order;
  } else {
    state.order = orderSelect.value;
  }

  // Server calls ------------------------------------------------------------------------

  async function call(method, url, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken;
      init.body = JSON.stringify({ ...body, order: state.order, seed: state.seed });
    }
    const response = await fetch(url, init);
    if (response.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent("/label"));
      return null;
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_err) {
      throw new Error(t("reload", { status: response.status }));
    }
    if (!response.ok) throw new Error(data.error || t("server_answered", { status: response.status }));
    return data;
  }

  async function act(request) {
    if (state.busy) return; // one action at a time: a key never lands on a mail not yet shown
    state.busy = true;
    document.body.classList.add("busy");
    let data = null;
    try {
      data = await request();
      if (data) render(data);
      showError("");
    } catch (err) {
      showError(err.message);
    } finally {
      state.busy = false;
      document.body.classList.remove("busy");
    }
    if (data && !data.progress) refreshProgress();
  }

  // The counts follow the actions in their own request, once the labeller pauses (or at
  // least every few seconds while they press on), so counting never competes with
  // fetching the next mail.
  const PROGRESS_PAUSE_MS = 400;
  const PROGRESS_MAX_WAIT_MS = 4000;
  let progressTimer = null;
  let progressDue = 0;
  function refreshProgress() {
    const now = Date.now();
    if (!progressDue) progressDue = now + PROGRESS_MAX_WAIT_MS;
    clearTimeout(progressTimer);
    progressTimer = setTimeout(loadProgress, Math.max(0, Math.min(PROGRESS_PAUSE_MS, progressDue - now)));
  }

  async function loadProgress() {
    if (state.busy) {
      progressTimer = setTimeout(loadProgress, 30); // right after the next mail is shown
      return;
    }
    progressDue = 0;
    try {
      const data = await call("GET", "/api/progress");
      if (data) renderProgress(data.progress);
    } catch (_err) {
      // Counts are a convenience; the next action asks again.
    }
  }

  const query = () => `?order=${encodeURIComponent(state.order)}&seed=${state.seed}`;
  const loadNext = () => act(() => call("GET", "/api/next" + query()));

  function pick(teamId) {
    if (!state.message) return;
    const messageId = state.message.id;
    const group = state.groupArmed;
    const url = group ? "/api/label-group" : "/api/label";
    const servedBy = state.servedBy;
    const verifying = state.verifying;
    // The verification sample is about teams only: no flags there.
    const flags = verifying ? {} : { ...state.flags };
    act(async () => {
      const data = await call("POST", url, { message_id: messageId, team_id: teamId, ...flags });
      // The counters move with the key press; the server's own count follows shortly and
      // corrects anything this guess got wrong (a group, a label that settles nothing).
      if (data && !data.progress && !group && !verifying) countLabel(teamId, servedBy);
      return data;
    });
  }

  function countLabel(teamId, servedBy) {
    const progress = state.progress;
    if (!progress) return;
    if (servedBy === "second") {
      progress.double_done += 1;
    } else {
      progress.labelled += 1;
      const slug = slugById.get(teamId);
      if (slug) progress.per_team[slug] = (progress.per_team[slug] || 0) + 1;
    }
    renderProgress(progress);
  }

  function toggleFlag(name) {
    state.flags[name] = !state.flags[name];
    renderFlags();
  }

  function renderFlags() {
    for (const name of ["urgent", "churn"]) {
      const button = $(`flag-${name}`);
      button.setAttribute("aria-pressed", String(state.flags[name]));
      button.classList.toggle("on", state.flags[name]);
    }
    $("flags").hidden = state.verifying;
  }

  function skip() {
    if (!state.message) return;
    act(() => call("POST", "/api/skip", { message_id: state.message.id }));
  }

  const undo = () => act(() => call("POST", "/api/undo", {}));

  // Rendering ---------------------------------------------------------------------------

  function setText(id, text) {
    $(id).textContent = text;
  }

  function showError(text) {
    const box = $("error");
    box.textContent = text;
    box.hidden = !text;
  }

  function render(data) {
    setText("notice", data.notice || "");
    if (data.progress) renderProgress(data.progress);
    const previous = state.message;
    state.message = data.message;
    state.suggestion = data.suggestion;
    state.verifying = Boolean(data.verifying);
    // Flags belong to one mail: the next one starts with neither.
    if (!previous || !data.message || previous.id !== data.message.id) {
      state.flags = { urgent: false, churn: false };
    }
    renderFlags();
    setGroupArmed(false);
    renderServedBy(data.served_by);
    state.servedBy = data.served_by;
    $("loading").hidden = true;
    $("empty").hidden = Boolean(data.message);
    $("message").hidden = !data.message;
    for (const button of teamButtons) button.classList.remove("suggested");
    if (!data.message) return;

    const m = data.message;
    setText("m-subject", m.subject);
    setText("m-sender", m.sender);
    setText("m-date", m.date || t("unknown"));
    $("m-date").dateTime = m.date_iso || "";
    setText("m-language", m.language);
    setText("m-id", "#" + m.id);
    setText("m-new", m.new_text || t("no_text"));

    const quoted = $("quoted-box");
    quoted.open = false;
    quoted.hidden = !m.quoted_text;
    setText("m-quoted", m.quoted_text);
    setText("quoted-label", m.quoted_label || t("quoted_history"));
    const lines = m.quoted_text ? m.quoted_text.split("\n").length : 0;
    setText("quoted-size", lines ? t("lines", { n: lines }) : "");
    const signature = $("signature-box");
    signature.open = false;
    signature.hidden = !m.signature;
    setText("m-signature", m.signature);

    const list = $("m-attachments");
    list.replaceChildren();
    for (const attachment of m.attachments) {
      const item = document.createElement("li");
      const kind = attachment.content_type ? `${attachment.content_type}, ` : "";
      item.textContent = `${attachment.filename} (${kind}${formatBytes(attachment.size)})`;
      list.append(item);
    }
    $("attachments").hidden = m.attachments.length === 0;

    $("returned").hidden = !data.returned;
    $("verifying").hidden = !state.verifying;
    renderSuggestion(data.suggestion);
    renderSuspect(data.suspect);
    $("group").hidden = !m.group_size;
    setText("g-size", String(m.group_size));
    setText("g-others", String(Math.max(m.group_size - 1, 0)));
    setText("ga-size", String(m.group_size));
    // The other members, each one click from being read (opening by number allows it).
    const members = $("g-members");
    members.replaceChildren();
    for (const id of m.group_ids || []) {
      const open = document.createElement("button");
      open.type = "button";
      open.className = "link";
      open.textContent = `#${id}`;
      open.addEventListener("click", () => act(() => call("GET", `/api/messages/${id}/open`)));
      members.append(open, " ");
    }

    $("tab-html").disabled = !m.has_html;
    const frame = $("html-view");
    frame.removeAttribute("srcdoc");
    showView(state.view === "html" && m.has_html ? "html" : "text");
    window.scrollTo(0, 0); // a long mail read to its end: the next one starts at its top
  }

  function renderSuggestion(suggestion) {
    const box = $("suggestion");
    box.hidden = !suggestion;
    if (!suggestion) return;
    setText("s-team", teamName.get(suggestion.team_id) || suggestion.team_slug);
    let source = "(archive folder)";
    if (suggestion.source === "model") {
      // Rounded down, as every share on every page (web/display.py).
      const confidence = suggestion.confidence == null ? "" : `, ${Math.floor(suggestion.confidence * 100 + 1e-9)} %`;
      source = `(${t("model")}${confidence})`;
    }
    setText("s-source", source);
    const button = teamButtons.find((b) => Number(b.dataset.teamId) === suggestion.team_id);
    if (button) button.classList.add("suggested");
  }

  // What the queue really served: an order that had nothing left falls back to oldest
  // first, and undone mail and pending second labels come before any order.
  function renderServedBy(servedBy) {
    const what = STRINGS[`served_${servedBy}`] || servedBy;
    let text = servedBy ? t("showing", { what }) : "";
    if (servedBy === "oldest" && state.order !== "oldest") {
      text += " " + t("order_empty");
    }
    setText("served", text);
  }

  function renderSuspect(suspect) {
    $("suspect").hidden = !suspect;
    if (!suspect) return;
    setText("sp-weak", suspect.weak_team_slug);
    setText("sp-likely", suspect.likely_team_slug || "another team");
  }

  function renderProgress(progress) {
    state.progress = { ...progress, per_team: { ...progress.per_team } };
    const bar = $("progress");
    bar.max = Math.max(progress.total, 1);
    bar.value = progress.labelled;
    const share = progress.total ? Math.floor((100 * progress.labelled) / progress.total) : 0;
    setText(
      "progress-text",
      t("progress", { labelled: progress.labelled, total: progress.total, share }) +
        (progress.weak_only ? t("weak_only", { n: progress.weak_only }) : ""),
    );
    const double = $("double-text");
    double.hidden = !progress.double_target;
    double.textContent = t("double", { done: progress.double_done, target: progress.double_target });
    const verified = $("verified-text");
    verified.hidden = !progress.verified && !state.verifying;
    verified.textContent = t("verified", { n: progress.verified });
    const most = Math.max(1, ...Object.values(progress.per_team));
    for (const element of document.querySelectorAll("[data-count-for]")) {
      element.textContent = String(progress.per_team[element.dataset.countFor] || 0);
    }
    for (const meter of document.querySelectorAll("[data-share-for]")) {
      meter.value = (progress.per_team[meter.dataset.shareFor] || 0) / most;
    }
  }

  function formatBytes(size) {
    if (size >= 1048576) return `${(size / 1048576).toFixed(1)} MB`;
    if (size >= 1024) return `${Math.round(size / 1024)} kB`;
    return `${size} B`;
  }

  function showView(view) {
    state.view = view;
    const html = view === "html";
    $("text-view").hidden = html;
    $("html-view").hidden = !html;
    $("tab-text").setAttribute("aria-selected", String(!html));
    $("tab-html").setAttribute("aria-selected", String(html));
    if (html && state.message && !$("html-view").hasAttribute("srcdoc")) loadHtml(state.message.id);
  }

  async function loadHtml(messageId) {
    try {
      const data = await call("GET", `/api/messages/${messageId}/html`);
      // The labeller may have moved on while the HTML was loading.
      if (data && state.message && state.message.id === messageId) {
        $("html-view").srcdoc = data.document;
      }
    } catch (err) {
      showError(err.message);
    }
  }

  function setGroupArmed(armed) {
    state.groupArmed = armed;
    $("group-armed").hidden = !armed;
    document.body.classList.toggle("group-armed", armed);
  }

  function toggleHelp() {
    const help = $("help");
    if (help.open) help.close();
    else help.showModal();
  }

  // Input -------------------------------------------------------------------------------

  function typing(target) {
    return (
      target instanceof HTMLInputElement ||
      target instanceof HTMLSelectElement ||
      target instanceof HTMLTextAreaElement ||
      (target instanceof HTMLElement && target.isContentEditable)
    );
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (typing(event.target)) return;
    if (event.key === "?") {
      event.preventDefault();
      toggleHelp();
      return;
    }
    if ($("help").open) return; // the dialog closes itself on Esc
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "Escape") {
      setGroupArmed(false);
      return;
    }
    if (key === "u") {
      event.preventDefault();
      undo();
      return;
    }
    if (!state.message) return;
    if (key === "0" && state.verifying) {
      event.preventDefault();
      pick(0); // no team
      return;
    }
    if (/^[1-9]$/.test(key)) {
      const button = teamByKey.get(key);
      if (button) {
        event.preventDefault();
        pick(Number(button.dataset.teamId));
      }
      return;
    }
    switch (key) {
      case "Enter":
        event.preventDefault(); // not a click on whatever button has focus
        if (state.suggestion) pick(state.suggestion.team_id);
        break;
      case "s":
        event.preventDefault();
        skip();
        break;
      case "g":
        if (state.message.group_size) setGroupArmed(!state.groupArmed);
        else setText("notice", t("no_group"));
        break;
      case "h":
        if (state.message.has_html) showView(state.view === "html" ? "text" : "html");
        break;
      case "q":
        if (state.message.quoted_text) $("quoted-box").open = !$("quoted-box").open;
        break;
      case "d": // dringend: urgent
        if (!state.verifying) toggleFlag("urgent");
        break;
      case "o": // opzeggen: wants to leave
        if (!state.verifying) toggleFlag("churn");
        break;
      default:
        break;
    }
  });

  for (const button of teamButtons) {
    button.addEventListener("click", () => {
      pick(Number(button.dataset.teamId));
      button.blur();
    });
  }
  for (const name of ["urgent", "churn"]) {
    $(`flag-${name}`).addEventListener("click", () => {
      toggleFlag(name);
      $(`flag-${name}`).blur(); // hand the keys back to labelling
    });
  }
  $("tab-text").addEventListener("click", () => showView("text"));
  $("tab-html").addEventListener("click", () => showView("html"));
  $("help-button").addEventListener("click", toggleHelp);
  // Opening a mail by its number (a near-duplicate, a flagged or a skipped mail) ------------

  $("open-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("open-id");
    const id = input.value.trim().replace(/^#/, "");
    if (!/^[0-9]{1,10}$/.test(id)) {
      showError(t("type_number"));
      return;
    }
    input.value = "";
    input.blur(); // hand the keys back to labelling
    act(() => call("GET", `/api/messages/${id}/open`));
  });

  async function loadSkipped() {
    const list = $("skipped-list");
    let data = null;
    try {
      data = await call("GET", "/api/skipped");
    } catch (err) {
      showError(err.message);
      return;
    }
    if (!data) return;
    list.replaceChildren();
    setText("skipped-count", String(data.skipped.length));
    for (const row of data.skipped) {
      const item = document.createElement("li");
      const open = document.createElement("button");
      open.type = "button";
      open.className = "link";
      open.textContent = `#${row.id} ${row.subject}`;
      open.addEventListener("click", () => act(() => call("GET", `/api/messages/${row.id}/open`)));
      const back = document.createElement("button");
      back.type = "button";
      back.className = "link";
      back.textContent = t("back_in_queue");
      back.addEventListener("click", async () => {
        try {
          const answer = await call("POST", "/api/unskip", { message_id: row.id });
          if (answer) setText("notice", answer.notice);
        } catch (err) {
          showError(err.message);
        }
        loadSkipped();
      });
      item.append(open, " · ", back);
      list.append(item);
    }
    $("skipped-empty").hidden = data.skipped.length > 0;
  }
  $("skipped-box").addEventListener("toggle", () => {
    if ($("skipped-box").open) loadSkipped();
  });

  orderSelect.addEventListener("change", () => {
    state.order = orderSelect.value;
    localStorage.setItem("mailroom.order", state.order);
    orderSelect.blur(); // hand the keys back to labelling
    loadNext();
  });

  loadNext();
})();
