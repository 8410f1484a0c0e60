// gradsim explore: the training tab. GET /api/train streams server-sent events (start,
// point, run, done | error | cancelled) for the current network and the pinned ones; the
// loss curves grow as the points arrive. Stop (or a new run) aborts the request, and the
// server stops the training at its next step.
import { COLORS, DASHES, VERDICT_COLORS, pow10 } from "./chart.js";
import { buildControls, showValues } from "./controls.js";
import { drawLoss } from "./figures.js";
import { netQuery, state, trainQuery } from "./state.js";

const $ = (id) => document.getElementById(id);
const T = { ctrl: null, runs: [], steps: 0, result: null, started: false, ui: null, frame: 0 };

export function initTraining(ui) {
  T.ui = ui;
  window.gradsimExplore.train = [];
  buildControls($("controls-train"), state.spec.train, state.train, () => { ui.changedView(); outdated(); }, "train");
  showValues(state.spec.train, state.train, "train");
  $("train-start").addEventListener("click", start);
  $("train-stop").addEventListener("click", () => { T.ctrl?.abort(); status("stopped"); running(false); });
}

// The tab is shown (autostart: train once the first time) or resized.
export function trainTabShown(autostart = true) {
  if (autostart && !T.started) start();
  else draw();
}

export function trainNetworkChanged() {
  if (T.started) outdated();
}

export function trainExport() {
  return T.result;
}

function outdated() {
  $("train-outdated").hidden = false;
}

function status(text) {
  $("train-status").textContent = text;
}

function running(on) {
  $("train-start").disabled = on;
  $("train-stop").disabled = !on;
  document.body.classList.toggle("training", on);
}

function query() {
  const q = netQuery();
  for (const [k, v] of trainQuery()) q.set(k, v);
  for (const p of state.pins) q.append("pin", netQuery(p.net).toString());
  q.set("client", T.ui.client);
  return q;
}

async function start() {
  T.started = true;
  T.ctrl?.abort();
  const ctrl = (T.ctrl = new AbortController());
  Object.assign(T, { runs: [], result: null, steps: Number(state.train.steps) });
  $("train-outdated").hidden = true;
  $("train-table").replaceChildren();
  $("train-progress").value = 0;
  status("starting…");
  running(true);
  try {
    const r = await fetch("/api/train?" + query(), { signal: ctrl.signal });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      const error = body.error ?? `the server answered ${r.status}`;
      T.ui.showError(error);
      status(`not started: ${error}`);
      return;
    }
    T.ui.clearError();
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        handle(parse(buffer.slice(0, cut)));
        buffer = buffer.slice(cut + 2);
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") status(`the server stopped answering: ${e.message}`);
  } finally {
    if (T.ctrl === ctrl) running(false);
  }
}

function parse(chunk) {
  let event = "message", data = "";
  for (const line of chunk.split("\n")) {
    if (line.startsWith("event: ")) event = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  return { event, data: data ? JSON.parse(data) : {} };
}

function handle({ event, data }) {
  if (event === "start") {
    T.runs = data.labels.map((label, i) => ({ name: i ? `pin ${i}: ${label}` : `current: ${label}`,
      color: COLORS[i], dash: DASHES[i], steps: [], loss: [], result: null }));
    T.steps = data.steps;
    $("train-command").textContent = data.commands.join("\n");
    status(`training ${T.runs.length} network${T.runs.length > 1 ? "s" : ""}…`);
  } else if (event === "point") {
    const r = T.runs[data.run];
    r.steps.push(data.step);
    r.loss.push(data.loss);
    $("train-progress").value = (data.run + data.step / T.steps) / T.runs.length;
    schedule();
  } else if (event === "run") {
    Object.assign(T.runs[data.run], { result: data.result, steps: data.result.steps, loss: data.result.loss });
    schedule();
    table();
  } else if (event === "done") {
    T.result = data;
    $("train-progress").value = 1;
    status(`done: ${T.runs.map((r) => `${r.name} ${r.result.verdict}`).join("; ")}`);
  } else if (event === "error") {
    T.ui.showError(data.error);
    status(`failed: ${data.error}`);
  } else if (event === "cancelled") status("stopped");
}

function schedule() {
  if (T.frame) return;
  T.frame = requestAnimationFrame(() => { T.frame = 0; draw(); });
}

function draw() {
  if (!T.runs.length || $("panel-train").hidden) return;
  const s = state.train;
  drawLoss($("train-chart"), T.runs, T.steps, `training: ${s.task} · ${s.steps} steps · lr ${s.lr} · ${s.optimizer}`);
  window.gradsimExplore.train.push(T.runs.map((r) => r.steps.length));
}

function table() {
  const rows = T.runs.filter((r) => r.result).map((r) => {
    const x = r.result, tr = document.createElement("tr");
    const cells = [r.name, x.verdict, pow10(Math.log10(x.initial_loss), 3),
      x.final_loss === null ? "—" : pow10(Math.log10(x.final_loss), 3), x.half_step ?? "—",
      x.final_accuracy === null ? "—" : `${Math.round(100 * x.final_accuracy)}%`];
    for (const c of cells) tr.appendChild(Object.assign(document.createElement("td"), { textContent: c }));
    const dot = Object.assign(document.createElement("span"), { className: "dot", textContent: "● " });
    dot.style.color = VERDICT_COLORS[x.verdict] ?? "inherit";
    tr.children[1].prepend(dot);
    tr.children[1].className = "verdict-cell";
    return tr;
  });
  const head = document.createElement("tr");
  for (const h of ["network", "verdict", "initial loss", "final loss", "half-loss step", "accuracy"])
    head.appendChild(Object.assign(document.createElement("th"), { textContent: h, scope: "col" }));
  $("train-table").replaceChildren(head, ...rows);
}
