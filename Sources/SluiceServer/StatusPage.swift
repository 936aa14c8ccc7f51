/// The status page a plant engineer opens: every pipeline and job with its state, last run, rows,
/// dead letters, lag and last error, and a strip of its recent runs (green: loaded rows, pale:
/// nothing new, red: failed). It reads `/api/pipelines` every 5 seconds. Everything is inline,
/// no external asset, so it works on an air-gapped LAN.
enum StatusPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice status</title>
<style>
  :root { --ok:#2e7d32; --idle:#a5d6a7; --fail:#c62828; --warn:#ef6c00; --run:#1565c0; --fg:#1b1f23; --muted:#6a737d; --line:#e1e4e8; }
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; background: #f6f8fa; }
  header { background: #24292e; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: #d1d5da; font-size: 13px; }
  main { padding: 16px 20px; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; white-space: nowrap; }
  th { background: #fafbfc; font-weight: 600; font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600; }
  .state.waiting { background: var(--ok); } .state.running { background: var(--run); }
  .state.failing { background: var(--warn); } .state.degraded { background: var(--fail); } .state.stopped { background: var(--muted); }
  .state.elsewhere { background: var(--idle); color: #333; }
  .strip { display: flex; gap: 2px; align-items: flex-end; height: 18px; }
  .strip i { display: block; width: 7px; height: 18px; border-radius: 1px; }
  .strip i.loaded { background: var(--ok); } .strip i.empty { background: var(--idle); } .strip i.failed { background: var(--fail); }
  td.error { color: var(--fail); font-family: ui-monospace, monospace; font-size: 12px; white-space: normal; min-width: 14em; max-width: 30em; word-break: break-word; }
  .state.retrying { background: var(--warn); }
  .muted { color: var(--muted); }
  .host { font-family: ui-monospace, monospace; font-size: 12px; background: #eef1f4; border-radius: 3px; padding: 0 4px; margin-left: 4px; }
  #banner { margin-bottom: 12px; padding: 8px 12px; border-radius: 4px; display: none; }
  #banner.bad { display: block; background: #ffebe9; border: 1px solid #ff8182; }
</style>
</head>
<body>
<header>
  <h1>Sluice</h1>
  <span id="summary">loading…</span>
  <span id="reload"></span>
  <span id="updated"></span>
</header>
<main>
  <div id="banner"></div>
  <table>
    <thead><tr>
      <th>Pipeline</th><th>State</th><th>Schedule</th><th>Last run</th><th>Rows (last / total)</th>
      <th>Dead letters</th><th>Lag</th><th>Next run</th><th>Recent runs</th><th>Last error</th>
    </tr></thead>
    <tbody id="rows"><tr><td colspan="10" class="muted">loading…</td></tr></tbody>
  </table>
  <noscript><p>This page needs JavaScript; the same data is at <a href="/api/pipelines">/api/pipelines</a>.</p></noscript>
</main>
<script>
"use strict";
const el = (tag, attrs, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
};
const ago = (iso, now) => {
  if (!iso) return "never";
  const s = Math.round((now - Date.parse(iso)) / 1000);
  return s < 0 ? "in " + duration(-s) : duration(s) + " ago";
};
const duration = (s) => {
  if (s === null || s === undefined) return "–";
  s = Math.round(s);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
};
const n = (x) => (x === null || x === undefined) ? "–" : Number(x).toLocaleString("en-US");
function render(data) {
  const now = Date.parse(data.now);
  const rows = document.getElementById("rows");
  rows.replaceChildren();
  // A retry in progress (running after failures) is still failing.
  const failing = (p) => p.state === "failing" || p.state === "degraded" || p.consecutive_failures > 0;
  const bad = data.pipelines.filter(failing);
  // Pipelines (and the hosts of a hall) first, then jobs.
  data.pipelines.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "pipeline" ? -1 : 1) || a.name.localeCompare(b.name));
  document.getElementById("summary").textContent =
    data.pipelines.length + " scheduled · " + bad.length + " failing · up " + duration((now - Date.parse(data.started)) / 1000) +
    (data.draining ? " · stopping" : "");
  const r = data.last_reload;
  document.getElementById("reload").textContent = r ? "configuration: " + r.summary + " (" + ago(r.date, now) + ")" : "";
  document.getElementById("updated").textContent = "updated " + new Date(now).toLocaleTimeString();
  const banner = document.getElementById("banner");
  const problems = [...bad.map(p => p.name + ": " + (p.last_error || p.state)), ...(r ? r.errors : [])];
  banner.className = problems.length ? "bad" : "";
  banner.textContent = problems.join("\n");
  banner.style.whiteSpace = "pre-wrap";
  if (data.pipelines.length === 0) {
    const tr = el("tr"); tr.appendChild(el("td", {colspan: 10, class: "muted"}, "nothing scheduled")); rows.appendChild(tr);
  }
  for (const p of data.pipelines) {
    const tr = el("tr", {"data-pipeline": p.name, "data-state": p.state});
    const name = el("td");
    if (p.host) {
      name.appendChild(el("strong", {}, p.pipeline));
      name.appendChild(el("span", {class: "host"}, " " + p.host));
    } else {
      name.appendChild(el("strong", {}, p.name));
    }
    if (p.kind !== "pipeline") name.appendChild(el("span", {class: "muted"}, " (" + p.kind + ")"));
    if (p.after.length) name.appendChild(el("div", {class: "muted"}, "after " + p.after.join(", ")));
    tr.appendChild(name);
    const shown = p.state === "running" && p.consecutive_failures > 0 ? "retrying" : p.state;
    const st = el("td"); st.appendChild(el("span", {class: "state " + shown}, shown));
    if (p.consecutive_failures > 0) st.appendChild(el("div", {class: "muted"}, p.consecutive_failures + " failure(s) in a row"));
    if (p.state === "elsewhere") st.appendChild(el("div", {class: "muted"}, "running on " + (p.running_on || "another daemon")));
    tr.appendChild(st);
    tr.appendChild(el("td", {class: "muted"}, p.schedule));
    const last = p.last_run;
    tr.appendChild(el("td", {}, last ? ago(last.ended, now) + " (" + last.seconds.toFixed(1) + " s)" : "never"));
    tr.appendChild(el("td", {class: "num rows"}, (last ? n(last.records) : "–") + " / " + n(p.total_records)));
    tr.appendChild(el("td", {class: "num"}, n(p.total_dead_letters)));
    tr.appendChild(el("td", {class: "num"}, p.lag_seconds === null || p.lag_seconds === undefined ? "–" : duration(p.lag_seconds)));
    const next = p.next_run ? Math.round((Date.parse(p.next_run) - now) / 1000) : null;
    tr.appendChild(el("td", {class: "muted"}, p.state === "running" ? "running now" : next === null ? "on trigger" : next <= 0 ? "now" : "in " + duration(next)));
    const strip = el("div", {class: "strip"});
    for (const run of p.history) {
      const kind = !run.succeeded ? "failed" : (run.records > 0 || run.dead_letters > 0 ? "loaded" : "empty");
      const title = new Date(Date.parse(run.started)).toLocaleString() + " · " + run.seconds.toFixed(2) + " s · " +
        (run.succeeded ? n(run.records) + " rows, " + n(run.dead_letters) + " dead letters" : "failed: " + run.error);
      strip.appendChild(el("i", {class: kind, title: title}));
    }
    const hist = el("td"); hist.appendChild(strip); tr.appendChild(hist);
    tr.appendChild(el("td", {class: "error"}, p.last_error || ""));
    rows.appendChild(tr);
  }
}
async function refresh() {
  try {
    const res = await fetch("/api/pipelines", {cache: "no-store"});
    render(await res.json());
  } catch (e) {
    document.getElementById("summary").textContent = "daemon not reachable: " + e;
  }
}
refresh();
setInterval(refresh, 5000);
</script>
</body>
</html>
"""#
}
