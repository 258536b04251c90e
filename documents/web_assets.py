"""The static CSS and JavaScript of the web pages (``documents.web``).

Both are constants: no run data is ever interpolated into them. The page hands its data to the script
through ``data-*`` attributes (HTML-escaped) and the script writes untrusted text with ``textContent``
only, so the pages work under ``script-src 'nonce-X'; style-src 'nonce-X'`` with no inline handler or
``style`` attribute anywhere.

The run page script follows the run's Server-Sent Events (``data-events-url``):

- agent events (``started``, ``turn_started``, ``text_delta``, ``tool_started``, ``tool_finished``,
  ``usage``, ``finished``) update the agent's row of the progress table;
- ``status``, ``verified`` and ``pr_opened`` update the run's header; ``pr_opened``
  fills ``#pr-link``;
- a ``delivery`` event (an attempt to reach Slack, GitHub or Jira succeeded, failed or was given up)
  rewrites that delivery's line in ``#deliveries`` with the event's ``summary``;
- a ``status`` event for a state with a new briefing (awaiting a decision, or final) reloads the page,
  but only when the event is newer (its ``ts``) than the facts the page was rendered from
  (``data-rendered-at``): the stream replays the run's past events first, and those must not reload
  the page again and again. Events without ``ts`` never reload.

Events are deduplicated by ``id``: a reconnecting EventSource gets the replay again.
The decision forms are sent with ``fetch`` so that the page stays and keeps following the run; without
JavaScript they are plain form posts.
"""

CSS = """
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #636c76; --bg: #ffffff; --panel: #f6f8fa;
  --line: #d0d7de; --good: #1a7f37; --warn: #9a6700; --bad: #cf222e; --link: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #161b22; --line: #30363d;
    --good: #3fb950; --warn: #d29922; --bad: #f85149; --link: #4493f8; }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 12px; }
a { color: var(--link); }
h1 { font-size: 1.3rem; margin: 0.2rem 0 0.6rem; overflow-wrap: anywhere; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 0.5rem; }
nav { font-size: 0.9rem; color: var(--muted); }
section { margin-bottom: 1rem; }
.muted { color: var(--muted); }
.delivery-pending { color: var(--warn); }
.delivery-abandoned { color: var(--bad); }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.text { overflow-wrap: break-word; min-width: 9rem; }
.nowrap { white-space: nowrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px;
  overflow-x: auto; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre.prose { white-space: pre-wrap; overflow-wrap: anywhere; font-family: inherit; font-size: 0.95rem; }
.d-add { color: var(--good); }
.d-del { color: var(--bad); }
.d-hunk { color: var(--link); }
.d-meta { color: var(--muted); font-weight: 600; }
.tone-good { color: var(--good); font-weight: 600; }
.tone-warning { color: var(--warn); font-weight: 600; }
.tone-bad { color: var(--bad); font-weight: 600; }
.status-running { color: var(--link); }
.status-submitted { color: var(--good); }
.status-pending { color: var(--muted); }
.status-stopped { color: var(--bad); }
.warnings li { color: var(--warn); }
.banner { padding: 8px 12px; border-radius: 6px; background: var(--panel); border: 1px solid var(--line); }
.error { color: var(--bad); }
.decision { display: flex; flex-wrap: wrap; gap: 16px; }
.decision form { flex: 1 1 280px; padding: 12px; border: 1px solid var(--line); border-radius: 6px; }
label { display: block; font-weight: 600; margin: 0.3rem 0; }
input[type=password], textarea { width: 100%; font: inherit; padding: 6px; border: 1px solid var(--line);
  border-radius: 4px; background: var(--bg); color: var(--fg); }
textarea { min-height: 6rem; }
button { font: inherit; font-weight: 600; padding: 8px 16px; margin-top: 8px; border-radius: 6px;
  border: 1px solid var(--line); background: var(--panel); color: var(--fg); cursor: pointer; }
button.primary { background: var(--good); border-color: var(--good); color: #fff; }
button:disabled { opacity: 0.5; cursor: default; }
@media (max-width: 640px) {
  main { padding: 8px; }
  .wide { display: none; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: 6px; }
}
"""

RUN_JS = r"""
"use strict";
(() => {
  const root = document.getElementById("run");
  if (!root) return;
  const config = root.dataset;
  const renderedAt = Number(config.renderedAt);
  const skew = renderedAt - Date.now() / 1000;
  const serverNow = () => Date.now() / 1000 + skew;
  const RELOAD = new Set(
    ["awaiting_decision", "shipped", "merged", "closed", "failed", "cancelled", "expired"]);
  const STOPPED = new Set(["running", "pending", "submitted"]);
  const LINK_SCHEMES = new Set(["http:", "https:", "local:"]);
  const ACTIVITY_CHARS = 120;
  const numbers = new Intl.NumberFormat("en-US");
  const count = (value) => numbers.format(Number(value) || 0);
  const agents = new Map();
  let lastId = 0;
  let source = null;

  const byId = (id) => document.getElementById(id);
  const setText = (id, text) => { const node = byId(id); if (node) node.textContent = text; };

  function clock(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const secs = String(total % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
  }

  for (const row of document.querySelectorAll("tr[data-agent]")) {
    const started = row.dataset.started ? Number(row.dataset.started) : null;
    const running = row.dataset.status === "running";
    agents.set(row.dataset.agent, { name: row.dataset.agent, started, running, activity: "" });
  }

  function setStatus(agent, status) {
    agent.running = status === "running";
    const cell = byId(`agent-${agent.name}-status`);
    if (!cell) return;
    cell.textContent = status.replace(/_/g, " ");
    cell.className = "status-" + (STOPPED.has(status) ? status : "stopped");
  }

  function showElapsed(agent, at) {
    if (agent.started !== null) setText(`agent-${agent.name}-elapsed`, clock(at - agent.started));
  }

  function onAgentEvent(agent, event) {
    const at = typeof event.ts === "number" ? event.ts : serverNow();
    switch (event.kind) {
      case "started":
        agent.started = at;
        agent.activity = "";
        setStatus(agent, "running");
        break;
      case "turn_started":
        if (agent.started === null) agent.started = at;
        if (!agent.running) setStatus(agent, "running");
        setText(`agent-${agent.name}-turn`, String(event.turn ?? ""));
        break;
      case "tool_started":
        setText(`agent-${agent.name}-tool`, String(event.tool ?? ""));
        break;
      case "tool_finished":
        setText(`agent-${agent.name}-tool`, "");
        break;
      case "text_delta":
        agent.activity = (agent.activity + String(event.text ?? "")).slice(-ACTIVITY_CHARS);
        setText(`agent-${agent.name}-activity`, agent.activity.replace(/\s+/g, " ").trim());
        break;
      case "usage":
        setText(`agent-${agent.name}-tokens`, `${count(event.input_tokens)} / ${count(event.output_tokens)}`);
        break;
      case "finished":
        setStatus(agent, String(event.status ?? "failed"));
        setText(`agent-${agent.name}-tool`, "");
        if (event.turns !== undefined) setText(`agent-${agent.name}-turn`, String(event.turns));
        showElapsed(agent, at);
        break;
      default:
        break;
    }
  }

  function showPullRequest(url) {
    const link = byId("pr-link");
    if (!link || typeof url !== "string") return;
    let parsed;
    try { parsed = new URL(url, window.location.href); } catch { return; }
    if (!LINK_SCHEMES.has(parsed.protocol)) return;
    link.href = parsed.href;
    link.textContent = url;
    const holder = byId("pr");
    if (holder) holder.hidden = false;
  }

  function showDelivery(event) {
    const list = byId("deliveries");
    if (!list || typeof event.summary !== "string") return;
    const key = String(event.key ?? "");
    const section = byId("deliveries-section");
    if (section) section.hidden = false;
    let item = Array.from(list.children).find((node) => node.dataset.delivery === key);
    if (!item) {
      item = document.createElement("li");
      item.dataset.delivery = key;
      list.appendChild(item);
    }
    item.dataset.state = String(event.state ?? "");
    item.className = "delivery-" + item.dataset.state;
    item.textContent = event.summary;
  }

  function reload() {
    if (source) source.close();
    window.location.reload();
  }

  function onRunEvent(event) {
    switch (event.kind) {
      case "status": {
        const status = String(event.status ?? "");
        setText("run-status", status.replace(/_/g, " "));
        if (RELOAD.has(status) && typeof event.ts === "number" && event.ts > renderedAt) reload();
        break;
      }
      case "verified":
        setText("verdict", String(event.verdict ?? "").replace(/_/g, " "));
        break;
      case "pr_opened":
        showPullRequest(event.url);
        break;
      case "delivery":
        showDelivery(event);
        break;
      default:
        break;
    }
  }

  function handle(event) {
    if (typeof event.id === "number") {
      if (event.id <= lastId) return;
      lastId = event.id;
    }
    const agent = event.agent ? agents.get(String(event.agent)) : undefined;
    if (agent) onAgentEvent(agent, event);
    else if (!event.agent) onRunEvent(event);
  }

  if (config.live === "1" && config.eventsUrl && window.EventSource) {
    source = new EventSource(config.eventsUrl);
    source.onopen = () => setText("live-state", "live");
    source.onerror = () => setText("live-state", "reconnecting…");
    source.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch { return; }
      if (event && typeof event === "object") handle(event);
    };
  }

  window.setInterval(() => {
    const now = serverNow();
    for (const agent of agents.values()) if (agent.running) showElapsed(agent, now);
  }, 1000);

  async function refusal(response) {
    const text = await response.text();
    try {
      const data = JSON.parse(text);
      if (data && typeof data.error === "string") return data.error;
    } catch { /* not JSON: the text itself */ }
    return text.trim().slice(0, 300) || response.statusText;
  }

  async function decide(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const approve = form.dataset.decision === "approve";
    const buttons = document.querySelectorAll("form[data-decision] button");
    const error = byId("decision-error");
    for (const button of buttons) button.disabled = true;
    if (error) error.textContent = "";
    setText("decision-status", approve ? "Approving..." : "Sending your feedback...");
    let message = "";
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
        headers: { "Accept": "application/json" },
      });
      if (!response.ok) message = `Refused (HTTP ${response.status}): ${await refusal(response)}`;
    } catch (failure) {
      message = `Not sent: ${failure instanceof Error ? failure.message : String(failure)}`;
    }
    if (message) {
      setText("decision-status", "");
      if (error) error.textContent = message;
      for (const button of buttons) button.disabled = false;
      return;
    }
    const forms = byId("decision-forms");
    if (forms) forms.hidden = true;
    setText("decision-status",
      approve ? "Approving..." : "Changes requested: the code agent is revising the fix.");
  }

  for (const form of document.querySelectorAll("form[data-decision]")) {
    form.addEventListener("submit", decide);
  }
})();
"""
