// The run page's script (documents/templates/run.html). No run data is ever written into this file:
// the page hands its data over in data-* attributes (HTML-escaped) and the script writes untrusted
// text with textContent only, so it runs under "script-src 'nonce-X'" with no inline handler.
//
// It follows the run's Server-Sent Events (data-events-url):
// - agent events (started, turn_started, text_delta, tool_started, tool_finished, usage, finished)
//   update the agent's row; the Activity cell shows one line per activity (the text of one model
//   turn), the latest last, each cut at a word with an ellipsis;
// - status, verified and pr_opened update the header; pr_opened fills #pr-link;
// - a delivery event rewrites that delivery's line in #deliveries with the event's summary;
// - a status event for a state with a new briefing (awaiting a decision, or final) reloads the page,
//   but only when it is newer (ts) than the facts the page was rendered from (data-rendered-at): the
//   stream replays the run's past events first, and those must not reload the page again and again.
// Events are deduplicated by id: a reconnecting EventSource may get some again.
// The decision forms are sent with fetch so that the page stays and keeps following the run; each
// form says what to show while it is sent and once it is accepted (data-sending, data-sent).
// Without JavaScript they are plain form posts.
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
  const ACTIVITY_CHARS = 100;
  const ACTIVITY_LINES = 3;
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
    agents.set(row.dataset.agent, { name: row.dataset.agent, started, running, lines: [], fresh: true });
  }

  function setStatus(agent, status) {
    agent.running = status === "running";
    const cell = byId(`agent-${agent.name}-status`);
    if (!cell) return;
    cell.textContent = status.replace(/_/g, " ");
    cell.className = "status-" + (STOPPED.has(status) ? status : "stopped");
  }

  // The start of a line, cut at the last word that fits, with an ellipsis: never a word cut in two.
  function shorten(text) {
    const line = text.replace(/\s+/g, " ").trim();
    if (line.length <= ACTIVITY_CHARS) return line;
    const cut = line.slice(0, ACTIVITY_CHARS);
    const space = cut.lastIndexOf(" ");
    return (space > ACTIVITY_CHARS / 2 ? cut.slice(0, space) : cut).replace(/[\s.,;:]+$/, "") + "…";
  }

  function showActivity(agent) {
    const cell = byId(`agent-${agent.name}-activity`);
    if (!cell) return;
    const shown = agent.lines.map(shorten).filter((line) => line);
    cell.replaceChildren(...shown.map((line) => {
      const item = document.createElement("div");
      item.className = "activity";
      item.textContent = line;
      return item;
    }));
  }

  function addActivity(agent, text) {
    if (agent.fresh || agent.lines.length === 0) {
      agent.lines.push("");
      agent.fresh = false;
      if (agent.lines.length > ACTIVITY_LINES) agent.lines.shift();
    }
    agent.lines[agent.lines.length - 1] += text;
    showActivity(agent);
  }

  function showElapsed(agent, at) {
    if (agent.started !== null) setText(`agent-${agent.name}-elapsed`, clock(at - agent.started));
  }

  function onAgentEvent(agent, event) {
    const at = typeof event.ts === "number" ? event.ts : serverNow();
    switch (event.kind) {
      case "started":
        agent.started = at;
        agent.lines = [];
        agent.fresh = true;
        showActivity(agent);
        setStatus(agent, "running");
        break;
      case "turn_started":
        if (agent.started === null) agent.started = at;
        if (!agent.running) setStatus(agent, "running");
        agent.fresh = true;
        setText(`agent-${agent.name}-turn`, String(event.turn ?? ""));
        break;
      case "tool_started":
        setText(`agent-${agent.name}-tool`, String(event.tool ?? ""));
        break;
      case "tool_finished":
        setText(`agent-${agent.name}-tool`, "");
        agent.fresh = true;
        break;
      case "text_delta":
        addActivity(agent, String(event.text ?? ""));
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
    const buttons = document.querySelectorAll("form[data-decision] button");
    const error = byId("decision-error");
    for (const button of buttons) button.disabled = true;
    if (error) error.textContent = "";
    setText("decision-status", form.dataset.sending || "Sending...");
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
    setText("decision-status", form.dataset.sent || "Sent.");
  }

  for (const form of document.querySelectorAll("form[data-decision]")) {
    form.addEventListener("submit", decide);
  }
})();
