// The dashboard's behaviour beyond htmx: theme toggle, the live-updates dot, one-line
// errors for failed actions, and the agent output viewer (append, de-duplicate, window,
// follow). No eval, no inline scripts: the pages' Content-Security-Policy forbids both.
(function () {
  "use strict";
  var body = document.body;

  // --- theme ------------------------------------------------------------------------------
  function markTheme() {
    var current = document.documentElement.dataset.theme || "system";
    document.querySelectorAll("[data-set-theme]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.setTheme === current));
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-set-theme]");
    if (!button) return;
    var theme = button.dataset.setTheme;
    try { localStorage.setItem("cw-theme", theme); } catch (e) { /* private mode */ }
    document.documentElement.dataset.theme = theme;
    markTheme();
  });
  markTheme();

  // --- live updates dot -------------------------------------------------------------------
  function setHealth(state, text) {
    var dot = document.getElementById("health");
    if (!dot) return;
    dot.dataset.state = state;
    dot.title = "Live updates: " + text;
    dot.setAttribute("aria-label", dot.title);
  }
  body.addEventListener("htmx:sseOpen", function () { setHealth("live", "connected"); });
  body.addEventListener("htmx:sseError", function () {
    setHealth("down", "lost, reconnecting… (if it stays red: is `cw start` running? run `cw open`)");
  });

  // --- errors: one line, where the action was -------------------------------------------
  function oneLine(xhr) {
    var text = xhr.getResponseHeader && xhr.getResponseHeader("X-CW-Error");
    if (!text) {
      try {
        var data = JSON.parse(xhr.responseText);
        text = data && data.detail;
        if (Array.isArray(text)) text = text.map(function (d) { return d.msg; }).join("; ");
      } catch (e) { text = null; }
    }
    text = String(text || (xhr.status + " " + (xhr.statusText || "error")));
    return text.split("\n")[0].slice(0, 300);
  }
  function errorLineFor(elt) {
    var scope = elt && elt.closest && elt.closest("form, [data-error-scope], .actions");
    var line = scope && scope.querySelector(".error-line");
    return line || document.getElementById("flash");
  }
  function showError(elt, text) {
    var line = errorLineFor(elt);
    if (!line) return;
    line.textContent = text;
    line.hidden = false;
  }
  body.addEventListener("htmx:responseError", function (event) {
    showError(event.detail.elt, oneLine(event.detail.xhr));
  });
  body.addEventListener("htmx:sendError", function (event) {
    showError(event.detail.elt, "the server does not answer (is `cw start` running?)");
  });
  body.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful) return;
    var elt = event.detail.elt;
    var line = errorLineFor(elt);
    if (line && line.id !== "flash") { line.hidden = true; line.textContent = ""; }
    if (elt.matches && elt.matches("form[data-reset-on-success]")) elt.reset();
  });

  // --- command palette (Ctrl/⌘-K) ----------------------------------------------------------
  var palette = document.getElementById("palette");
  var paletteInput = document.getElementById("palette-input");
  function openPalette() {
    if (!palette || palette.open) return;
    var status = document.getElementById("palette-status");
    if (status) status.textContent = "";
    palette.showModal();
    paletteInput.select();
    htmx.trigger(paletteInput, "palette:open");
  }
  function paletteItems() {
    return Array.prototype.slice.call(palette.querySelectorAll("[data-palette-item]"));
  }
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "k" || event.key === "K")) {
      event.preventDefault();
      if (palette && palette.open) palette.close(); else openPalette();
    }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-open-palette]")) openPalette();
  });
  if (palette) {
    palette.addEventListener("click", function (event) {
      if (event.target === palette) palette.close();  // a click on the backdrop
    });
    palette.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {  // a search field would only clear itself
        event.preventDefault();
        palette.close();
        return;
      }
      var items = paletteItems();
      if (!items.length) return;
      var at = items.indexOf(document.activeElement);
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        var next = event.key === "ArrowDown" ? at + 1 : (at < 0 ? items.length - 1 : at - 1);
        if (next < 0) { paletteInput.focus(); return; }
        items[Math.min(next, items.length - 1)].focus();
      } else if (event.key === "Enter" && document.activeElement === paletteInput) {
        event.preventDefault();
        items[0].click();
      }
    });
  }

  // --- review: a comment form under the line clicked; no refresh while one is written -----
  document.addEventListener("click", function (event) {
    var plus = event.target.closest && event.target.closest(".add-comment");
    if (plus) {
      var template = document.getElementById("comment-form");
      var row = plus.closest("tr");
      if (!template || !row) return;
      var next = row.nextElementSibling;
      while (next && next.classList.contains("thread-row")) { row = next; next = row.nextElementSibling; }
      if (next && next.classList.contains("comment-form-row")) next.remove();
      var fresh = template.content.firstElementChild.cloneNode(true);
      var formEl = fresh.querySelector("form");
      formEl.querySelector("[name=file_path]").value = plus.dataset.file;
      formEl.querySelector("[name=line_number]").value = plus.dataset.line;
      formEl.querySelector("[name=line_type]").value = plus.dataset.type;
      var area = formEl.querySelector("textarea");
      area.setAttribute("aria-label", "New comment on " + plus.dataset.file + " line " + plus.dataset.line);
      row.parentNode.insertBefore(fresh, row.nextSibling);
      htmx.process(fresh);
      area.focus();
      return;
    }
    var cancel = event.target.closest && event.target.closest("[data-cancel-comment]");
    if (cancel) cancel.closest("tr").remove();
  });
  body.addEventListener("htmx:beforeRequest", function (event) {
    // A live refresh of the review must not wipe a comment being written.
    var elt = event.detail.elt;
    if (!elt.matches || !elt.matches("[data-hold-while-typing]")) return;
    if (event.detail.requestConfig && event.detail.requestConfig.verb !== "get") return;
    var busy = elt.querySelector(".comment-form-row") ||
      Array.prototype.some.call(elt.querySelectorAll("textarea, input[name=summary]"), function (t) {
        return t.value.trim() !== "";
      });
    if (busy) event.preventDefault();
  });
  // The line confirming the last action stays through live refreshes until the next action.
  var keptMessage = null;
  body.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail.elt;
    keptMessage = null;
    if (!elt.matches || !elt.matches("[data-hold-while-typing]")) return;
    keptMessage = elt.querySelector("#review-message");
  });
  body.addEventListener("htmx:afterSwap", function (event) {
    var elt = event.detail.elt;
    if (!keptMessage || !elt.matches || !elt.matches("[data-hold-while-typing]")) return;
    if (!elt.querySelector("#review-message")) elt.insertBefore(keptMessage, elt.firstChild);
    keptMessage = null;
  });

  // --- agent output ----------------------------------------------------------------------
  var log = document.getElementById("log");
  if (!log) return;
  var follow = document.getElementById("follow");

  function atBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }
  function toBottom() { log.scrollTop = log.scrollHeight; }

  function trim() {
    // Windowed: the page keeps at most maxChunks chunks; older ones are paged in on demand.
    var maxChunks = parseInt(log.dataset.maxChunks || "2000", 10);
    var chunks = log.querySelectorAll(":scope > .chunk");
    var extra = chunks.length - maxChunks;
    if (extra <= 0) return;
    for (var i = 0; i < extra; i++) chunks[i].remove();
    var first = log.querySelector(":scope > .chunk");
    var older = log.querySelector(":scope > .older");
    if (older) older.remove();
    var button = document.createElement("button");
    button.type = "button";
    button.className = "older";
    button.textContent = "Load older output";
    button.setAttribute("hx-get", "/ui/agents/" + encodeURIComponent(log.dataset.agent) +
      "/older?before=" + first.dataset.seq);
    button.setAttribute("hx-swap", "outerHTML");
    log.insertBefore(button, first);
    htmx.process(button);
  }

  function append(html) {
    var following = follow ? follow.checked : atBottom();
    var template = document.createElement("template");
    template.innerHTML = html;
    var added = 0;
    template.content.querySelectorAll(".chunk").forEach(function (chunk) {
      if (document.getElementById(chunk.id)) return;  // already shown (a reconnect replays)
      log.appendChild(chunk);
      added++;
    });
    if (!added) return;
    var empty = document.getElementById("log-empty");
    if (empty) empty.remove();
    trim();
    if (following) toBottom();
  }

  // The SSE extension asks before swapping an "output" message: the viewer appends it itself.
  log.addEventListener("htmx:sseBeforeMessage", function (event) {
    event.preventDefault();
    append(event.detail.data);
  });
  log.addEventListener("scroll", function () {
    if (follow && !atBottom()) follow.checked = false;
  });
  if (follow) follow.addEventListener("change", function () { if (follow.checked) toBottom(); });
  var jump = document.getElementById("jump");
  if (jump) jump.addEventListener("click", function () {
    if (follow) follow.checked = true;
    toBottom();
  });
  toBottom();
})();
