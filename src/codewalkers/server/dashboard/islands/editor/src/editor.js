// The page editor island: a Tiptap editor on #editor that saves the page's Tiptap JSON
// through the dashboard (POST /ui/pages/{id}/content) a moment after the last keystroke,
// and says what happened in #save-state: saving…, saved, failed (with the server's reason),
// or changed elsewhere.
//
// A save carries the content version the editor started from; the server refuses it (409)
// when the page was changed elsewhere since, so nothing is silently overwritten. The person
// then chooses: overwrite with theirs, or load the other version. Changes made elsewhere
// arrive on the page's event stream (`pages` messages): a clean editor takes them at once,
// an editor with unsaved text says so and waits for that choice.
import { Editor } from "@tiptap/core";
import { extensions } from "./schema.js";

// How long after the last keystroke a save starts. A test may hold edits unsaved by setting
// window.cwEditorSaveDelay before the page loads.
const SAVE_DELAY_MS = Number(window.cwEditorSaveDelay) || 600;

function clock(iso) {
  const when = iso ? new Date(iso) : new Date();
  return isNaN(when.getTime()) ? "" : when.toLocaleTimeString();
}

function oneLine(text) {
  return String(text || "").split("\n")[0].slice(0, 300);
}

async function detailOf(response) {
  let data = {};
  try {
    data = await response.json();
  } catch (e) {
    data = {};
  }
  let detail = data && data.detail;
  if (Array.isArray(detail)) detail = detail.map((d) => d.msg).join("; ");
  if (!detail) detail = response.headers.get("X-CW-Error") || response.status + " " + response.statusText;
  return { data, detail: oneLine(detail) };
}

function mount(root) {
  const pageId = root.dataset.page;
  const url = "/ui/pages/" + encodeURIComponent(pageId) + "/content";
  const source = document.getElementById("page-doc");
  const stateLine = document.getElementById("save-state");
  const actions = document.getElementById("save-actions");
  const title = document.getElementById("page-title");
  let doc = null;
  try {
    doc = JSON.parse(source ? source.textContent : "null");
  } catch (e) {
    doc = null;
  }

  let base = root.dataset.version; // the content version the editor's text started from
  let dirty = false; // edits not yet sent
  let inFlight = false;
  let again = false; // edited while a save was in flight
  let blocked = false; // conflict or deleted: no auto-save until the person chooses
  let timer = null;
  let remote = null; // a change announced while a save was in flight
  // Versions this editor saved: their events (replayed after a reconnect, or arriving late)
  // are not changes made elsewhere.
  const mine = new Set();

  function show(state, text, buttons) {
    stateLine.dataset.state = state;
    stateLine.textContent = text;
    root.dataset.saveState = state;
    actions.replaceChildren();
    (buttons || []).forEach(([label, name, handler]) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.dataset.action = name;
      button.addEventListener("click", handler);
      actions.appendChild(button);
    });
  }

  const editor = new Editor({
    element: root,
    extensions: extensions("Start writing…"),
    content: doc && Array.isArray(doc.content) && doc.content.length ? doc : null,
    injectCSS: false, // the Content-Security-Policy forbids <style> elements: dashboard.css
    enableContentCheck: true,
    onContentError({ error }) {
      // Never show (and then save) a document the schema could not read: read-only.
      blocked = true;
      setTimeout(() => {
        editor.setEditable(false);
        show("failed", "Read-only: this page holds something the editor cannot show (" +
          oneLine(error && error.cause ? error.cause.message : error.message) +
          "); edit it with `cw page edit " + pageId + "`");
      });
    },
    onUpdate() {
      dirty = true;
      if (blocked) return;
      show("dirty", "Unsaved changes…");
      schedule();
    },
  });
  root.cwEditor = editor; // for tests and the console

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(save, SAVE_DELAY_MS);
  }

  async function save(force) {
    clearTimeout(timer);
    if (inFlight) {
      again = true;
      return;
    }
    if (!dirty && !force) return;
    if (blocked && !force) return;
    inFlight = true;
    dirty = false;
    show("saving", "Saving…");
    const body = JSON.stringify({ doc: editor.getJSON(), base: base, force: Boolean(force) });
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        credentials: "same-origin",
        body: body,
        keepalive: body.length < 60000, // finishes even when the tab is closing
      });
      const { data, detail } = response.ok ? { data: await response.json(), detail: "" } : await detailOf(response);
      if (response.ok) {
        base = data.version;
        mine.add(base);
        blocked = false;
        if (!dirty) show("saved", "Saved " + clock(data.updated_at));
      } else if (response.status === 409) {
        dirty = true;
        conflict("Not saved: " + detail);
      } else if (response.status === 404) {
        dirty = true;
        gone("Not saved: " + detail);
      } else {
        dirty = true;
        show("failed", "Not saved: " + detail, [["Retry", "retry", () => save()]]);
      }
    } catch (e) {
      dirty = true;
      show("failed", "Not saved: the server does not answer (is `cw start` running?)", [
        ["Retry", "retry", () => save()],
      ]);
    } finally {
      inFlight = false;
    }
    if (remote) {
      const announced = remote;
      remote = null;
      changedElsewhere(announced);
    }
    if (again && !blocked) {
      again = false;
      if (dirty) schedule();
    }
  }

  function conflict(text) {
    blocked = true;
    show("conflict", text, [
      ["Overwrite with mine", "overwrite", () => save(true)],
      ["Discard mine, load theirs", "load", load],
    ]);
  }

  function gone(text) {
    blocked = true;
    editor.setEditable(false);
    show("failed", text);
  }

  async function load() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) {
        const { detail } = await detailOf(response);
        if (response.status === 404) gone("This page was deleted elsewhere");
        else show("failed", "Could not load the page: " + detail, [["Retry", "load", load]]);
        return;
      }
      const data = await response.json();
      const content = data.doc && Array.isArray(data.doc.content) && data.doc.content.length ? data.doc : null;
      editor.commands.setContent(content, { emitUpdate: false });
      base = data.version;
      dirty = false;
      blocked = false;
      show("saved", "Loaded the version saved elsewhere at " + clock(data.updated_at));
    } catch (e) {
      show("failed", "Could not load the page: the server does not answer", [["Retry", "load", load]]);
    }
  }

  // Another tab, the CLI or an agent changed this page.
  function changedElsewhere(change) {
    if (change.event === "page:deleted") {
      gone("This page was deleted elsewhere; your text is still here to copy");
      return;
    }
    if (title && document.activeElement !== title && change.title && title.value !== change.title) {
      title.value = change.title;
      title.defaultValue = change.title;
    }
    if (change.title && document.title.indexOf(change.title) !== 0) {
      document.title = change.title + document.title.slice(document.title.indexOf(" · "));
    }
    // A rename or a move, our own save, or a replay (after a reconnect) of one we had.
    if (!change.version || change.version === base || mine.has(change.version)) return;
    if (dirty || blocked) conflict("Changed elsewhere at " + clock(change.updated_at) + " while you were editing; nothing of yours saved yet");
    else load();
  }

  const watch = document.getElementById("page-watch");
  if (watch) {
    // The SSE extension asks before swapping a `pages` message: this island takes it.
    watch.addEventListener("htmx:sseBeforeMessage", (event) => {
      event.preventDefault();
      let change = null;
      try {
        change = JSON.parse(event.detail.data);
      } catch (e) {
        return;
      }
      if (!change || change.id !== pageId) return;
      if (inFlight) remote = change;
      else changedElsewhere(change);
    });
  }

  // Leaving: send what is pending, and warn while a save is unfinished.
  editor.on("blur", () => {
    if (dirty && !blocked) save();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden" && dirty && !blocked) save();
  });
  window.addEventListener("beforeunload", (event) => {
    if (dirty || inFlight) {
      if (!blocked) save();
      event.preventDefault();
    }
  });
  // Actions elsewhere on the page (rename, move, delete, create) flush first.
  document.body.addEventListener("htmx:confirm", () => {
    if (dirty && !blocked) save();
  });

  show("saved", root.dataset.updated ? "Saved " + clock(root.dataset.updated) : "Saved");
}

document.querySelectorAll("[data-editor]").forEach(mount);
