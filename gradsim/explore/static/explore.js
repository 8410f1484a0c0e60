// gradsim explore: the page. Every change of a control reruns the network on the server
// (GET /api/run) and redraws; a request made stale by a newer one is aborted here and
// skipped by the server, and an answer that is not the latest is never drawn.
import { COLORS, DASHES, VERDICT_COLORS, pow10 } from "./chart.js";
import { buildControls, showValues } from "./controls.js";
import { drawCurves, drawHist } from "./figures.js";
import { exportChart, download } from "./export.js";
import { describe, fromURL, netQuery, state, toURL } from "./state.js";
import { initTraining, trainExport, trainTabShown, trainNetworkChanged } from "./train.js";

const $ = (id) => document.getElementById(id);
const client = Math.random().toString(36).slice(2) + Date.now().toString(36);
const pass = { seq: 0, ctrl: null, last: null, pinned: new Map() };
// what the tests read: every drawn frame, its latency from the change, every error shown
const log = (window.gradsimExplore = { frames: [], errors: [], requests: {}, client });

function runQuery(net, extra = {}) {
  const q = netQuery(net);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  q.set("client", client);
  return q;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  document.body.classList.add("has-error");
  log.errors.push(message);
}

function clearError() {
  $("error").hidden = true;
  document.body.classList.remove("has-error");
}

// Rerun the current network; t0: when the change that asked for it happened.
async function rerun(t0 = performance.now()) {
  const seq = ++pass.seq;
  pass.ctrl?.abort();
  const ctrl = (pass.ctrl = new AbortController());
  const extra = { seq };
  log.requests[seq] = state.net.depth;
  log.requested = seq;
  if (state.view.hist) extra.hist = "1";
  if (state.view.theory) extra.theory = "1";
  document.body.classList.add("busy");
  try {
    const r = await fetch("/api/run?" + runQuery(state.net, extra), { signal: ctrl.signal });
    const body = await r.json().catch(() => ({}));
    if (seq !== pass.seq || r.status === 409) return;
    if (!r.ok) {
      showError(body.error ?? `the server answered ${r.status}`);
      $("curves").dataset.invalid = "1";
      log.frames.push({ seq, ok: false, ms: performance.now() - t0 });
      return;
    }
    clearError();
    pass.last = body;
    render();
    log.frames.push({ seq, ok: true, ms: performance.now() - t0, server: body.ms, depth: body.run.config.depth,
      init: body.run.config.init, verdict: body.run.summary.verdict });
    $("timing").textContent = `computed in ${Math.round(body.ms)} ms, drawn ${Math.round(performance.now() - t0)} ms after the change`;
  } catch (e) {
    if (e.name !== "AbortError" && seq === pass.seq) showError(`no answer from the server: ${e.message}`);
  } finally {
    if (seq === pass.seq) document.body.classList.remove("busy");
  }
}

function title(run) {
  const c = run.config;
  return `L=${c.depth} n=${c.width} B=${c.batch} · ${c.activation} · ${c.init}` +
    `${c.residual ? ` · residual α=${c.residual_scale}` : ""}${c.norm ? ` · ${c.norm} norm` : ""}` +
    ` · ${c.loss} · ${c.dtype} · seed ${c.seed}: ${run.summary.verdict.toUpperCase()}`;
}

function renderVerdict(body) {
  const s = body.run.summary;
  const badge = $("verdict-badge");
  badge.textContent = s.verdict.toUpperCase();
  badge.style.background = VERDICT_COLORS[s.verdict] ?? "#59636e";
  $("verdict").dataset.verdict = s.verdict;
  $("verdict-detail").textContent = `forward ${s.forward} · backward ${s.backward}`;
  $("ratios").textContent = `δ ratio (layer 1 / L) ${pow10(s.log10_delta_ratio)} · act ratio (L / input) ` +
    `${pow10(s.log10_act_ratio)} · δ per layer ×${s.growth_per_layer?.toPrecision(3) ?? "—"}`;
  const sentences = [...s.sentences, ...(state.view.theory && s.theory ? s.theory.sentences : [])];
  $("sentences").replaceChildren(...sentences.map((t) => Object.assign(document.createElement("li"), { textContent: t })));
  const note = $("theory-note");
  note.hidden = !(state.view.theory && body.theory_error);
  note.textContent = body.theory_error ? `No mean-field prediction: ${body.theory_error}.` : "";
  $("command").textContent = body.command;
}

function series() {
  const out = [{ name: `current: ${describe(state.net)}`, series: "current", run: pass.last.run,
    color: COLORS[0], dash: DASHES[0], width: 2.5 }];
  state.pins.forEach((p, i) => {
    const body = pass.pinned.get(netQuery(p.net).toString());
    if (body) out.push({ name: `pin ${i + 1}: ${describe(p.net)}`, series: `pin-${i + 1}`, run: body.run,
      color: COLORS[i + 1], dash: DASHES[i + 1], width: 1.8 });
  });
  return out;
}

function renderHist(run) {
  const section = $("hist-section");
  section.hidden = !state.view.hist || !run.hist;
  if (section.hidden) return;
  const all = run.hist.act.map((h) => h.layer);
  const chosen = state.view.layers ? all.filter((l) => state.view.layers.includes(l)) : all;
  const box = $("hist-layers");
  box.replaceChildren(Object.assign(document.createElement("legend"), { textContent: "layers" }));
  for (const l of all) {
    const label = Object.assign(document.createElement("label"), { className: "chip" });
    const input = Object.assign(document.createElement("input"), { type: "checkbox", checked: chosen.includes(l), value: l });
    input.addEventListener("change", () => {
      const picked = [...box.querySelectorAll("input:checked")].map((x) => Number(x.value));
      state.view.layers = picked.length === all.length ? null : picked;
      changedView();
      renderHist(pass.last.run);
    });
    label.append(input, ` ${l}`);
    box.appendChild(label);
  }
  drawHist($("hist"), run.hist, chosen, `histograms at layers ${chosen.join(", ") || "(none chosen)"}`);
}

function renderPins() {
  const list = $("pins");
  list.replaceChildren();
  state.pins.forEach((p, i) => {
    const li = document.createElement("li");
    const swatch = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    swatch.setAttribute("class", "swatch");
    swatch.setAttribute("width", 26);
    swatch.setAttribute("height", 10);
    swatch.setAttribute("aria-hidden", "true");
    swatch.innerHTML = `<line x1="0" x2="26" y1="5" y2="5" stroke="${COLORS[i + 1]}" stroke-width="2.5" stroke-dasharray="${DASHES[i + 1]}"/>`;
    const body = pass.pinned.get(netQuery(p.net).toString());
    const load = Object.assign(document.createElement("button"), { type: "button", className: "link",
      textContent: `pin ${i + 1}: ${describe(p.net)}${body ? ` (${body.run.summary.verdict})` : ""}`,
      title: "Load this network into the controls" });
    load.addEventListener("click", () => { state.net = { ...p.net }; showValues(state.spec.network, state.net, "net"); networkChanged(); });
    const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "×", className: "remove" });
    remove.setAttribute("aria-label", `Remove pin ${i + 1}`);
    remove.addEventListener("click", () => { state.pins.splice(i, 1); changedView(); render(); });
    li.append(swatch, load, remove);
    list.appendChild(li);
  });
  $("pin").disabled = state.pins.length >= state.spec.max_pins;
}

function render() {
  renderPins();
  if (!pass.last) return;
  const run = pass.last.run;
  delete $("curves").dataset.invalid;
  renderVerdict(pass.last);
  drawCurves($("curves"), { series: series(), theory: state.view.theory, bands: pass.last.bands, title: title(run) });
  $("curves").dataset.seq = pass.last.seq;
  renderHist(run);
}

async function fetchPin(net) {
  const key = netQuery(net).toString();
  if (pass.pinned.has(key)) return;
  const r = await fetch("/api/run?" + runQuery(net));
  const body = await r.json().catch(() => ({}));
  if (r.ok) pass.pinned.set(key, body);
  else showError(`pinned network ${describe(net)}: ${body.error ?? `the server answered ${r.status}`}`);
  render();
}

function changedView() {
  history.replaceState(null, "", toURL());
}

function networkChanged(e) {
  $("net-residual_scale").disabled = $("net-residual_scale-value").disabled = state.net.residual !== "1";
  changedView();
  rerun(e?.timeStamp ?? performance.now());
  trainNetworkChanged();
}

function selectTab(tab, focus = false) {
  state.view.tab = tab;
  for (const t of ["pass", "train"]) {
    const button = $(`tab-${t}`);
    button.setAttribute("aria-selected", String(t === tab));
    button.tabIndex = t === tab ? 0 : -1;
    $(`panel-${t}`).hidden = t !== tab;
    if (t === tab && focus) button.focus();
  }
  changedView();
  if (tab === "train") trainTabShown();
  else if (pass.last) render();
}

function bindPage() {
  for (const t of ["pass", "train"]) {
    $(`tab-${t}`).addEventListener("click", () => selectTab(t));
    $(`tab-${t}`).addEventListener("keydown", (e) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) {
        e.preventDefault();
        selectTab(state.view.tab === "pass" ? "train" : "pass", true);
      }
    });
  }
  $("show-theory").addEventListener("change", (e) => { state.view.theory = e.target.checked; changedView(); rerun(e.timeStamp); });
  $("show-hist").addEventListener("change", (e) => { state.view.hist = e.target.checked; changedView(); rerun(e.timeStamp); });
  $("pin").addEventListener("click", () => {
    if (state.pins.length >= state.spec.max_pins || !pass.last) return;
    state.pins.push({ net: { ...state.net } });
    pass.pinned.set(netQuery(state.net).toString(), pass.last);
    changedView();
    render();
  });
  $("copy-link").addEventListener("click", () => copy(location.href, "link copied"));
  $("copy-command").addEventListener("click", () => copy($("command").textContent, "command copied"));
  $("export-json").addEventListener("click", () => {
    const data = state.view.tab === "train" ? trainExport() : pass.last?.run;
    if (data) download(new Blob([JSON.stringify(data, null, 2) + "\n"], { type: "application/json" }), `gradsim-${data.kind}.json`);
  });
  for (const fmt of ["png", "svg"])
    $(`export-${fmt}`).addEventListener("click", () => exportChart(state.view.tab === "train" ? $("train-chart") : $("curves"), fmt));
  let resize = null;
  window.addEventListener("resize", () => { clearTimeout(resize); resize = setTimeout(() => (state.view.tab === "pass" ? render() : trainTabShown(false)), 150); });
}

async function copy(text, done) {
  const status = $("status");
  try { await navigator.clipboard.writeText(text); status.textContent = done; }
  catch { status.textContent = `copy this: ${text}`; }
}

async function main() {
  state.spec = await (await fetch("/api/options")).json();
  fromURL(location.search);
  buildControls($("controls-net"), state.spec.network, state.net, (dest, e) => networkChanged(e), "net");
  showValues(state.spec.network, state.net, "net");
  $("show-theory").checked = state.view.theory;
  $("show-hist").checked = state.view.hist;
  bindPage();
  initTraining({ client, showError, clearError, changedView });
  $("net-residual_scale").disabled = $("net-residual_scale-value").disabled = state.net.residual !== "1";
  selectTab(state.view.tab);
  rerun();
  for (const p of state.pins) fetchPin(p.net);
}

main().catch((e) => showError(`the page could not start: ${e.message}`));
