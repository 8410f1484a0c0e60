// gradsim explore: the three figures of the page, each from the JSON contract's objects
// (docs/json.md): the per-layer curves of runs, their histograms, and training loss curves.
import { COLORS, DASHES, decade, el, grid, legend, panel, reset } from "./chart.js";

const THEORY = { color: "#000000", dash: "3 3", name: "mean-field prediction" };

function setHeight(svg, width, height) {
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.querySelector("rect").setAttribute("height", height);
}

function widthOf(svg) {
  return Math.max(320, Math.round(svg.parentElement.getBoundingClientRect().width || 900));
}

// The chart's title, broken at " · " into lines that fit the width; returns the height.
function heading(svg, width, text) {
  const perLine = Math.floor((width - 24) / 8), lines = [];
  for (const part of text.split(" · ")) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + part.length + 3 <= perLine) lines[last] += " · " + part;
    else lines.push(part);
  }
  lines.forEach((line, i) =>
    el("text", { x: 12, y: 20 + 18 * i, "font-size": 14, "font-weight": 600, fill: "#1f2328" }, svg, line));
  return 12 + 18 * lines.length;
}

// The runs' activation and δ RMS per layer on log axes, with the dtype's range shaded.
// series: [{name, series, run, color, dash, width}] (the current run first); theory: draw
// its mean-field prediction; bands: compute.bands of the current run's dtype.
export function drawCurves(svg, { series, theory, bands, title }) {
  const W = widthOf(svg);
  reset(svg, W, 400);
  let top = heading(svg, W, title);
  const entries = series.map((s) => ({ color: s.color, dash: s.dash, name: s.name }));
  const current = series[0].run;
  const pred = theory && current.layers.some((l) => l.log10_delta_pred !== undefined);
  if (pred) entries.push(THEORY);
  top += legend(svg, 12, top + 12, W - 24, entries) + 6;
  const L = Math.max(2, ...series.map((s) => s.run.layers.length));
  const { boxes, height } = grid(W, 2, top, 230);
  const nf = current.summary.nonfinite;
  const mark = (pass) => (nf && nf.pass === pass ? [{ x: nf.layer, text: `${bands.dtype}: inf/NaN here` }] : []);
  const band = { hi: bands.log10_max, lo: bands.log10_tiny, dtype: bands.dtype };
  const specs = [
    { id: "act", key: "log10_act_rms", pk: "log10_act_pred", pass: "forward",
      title: "activations H_l: RMS per layer" },
    { id: "delta", key: "log10_delta_rms", pk: "log10_delta_pred", pass: "backward",
      title: "gradients δ_l = ∂E/∂Z_l: RMS per layer" },
  ];
  specs.forEach((p, i) => {
    const lines = series.map((s) => ({
      x: s.run.layers.map((l) => l.layer), y: s.run.layers.map((l) => l[p.key] ?? null),
      color: s.color, dash: s.dash, width: s.width, name: s.name, series: s.series,
    }));
    if (pred) lines.push({ ...THEORY, x: current.layers.map((l) => l.layer),
      y: current.layers.map((l) => l[p.pk] ?? null), width: 1.5, series: "theory" });
    panel(svg, boxes[i], { id: p.id, title: p.title, xLabel: "layer l", xDomain: [1, L],
      lines, bands: band, marks: mark(p.pass) });
  });
  setHeight(svg, W, height);
}

function stepLine(h, total) {
  const x = [], y = [];
  h.counts.forEach((c, i) => {
    const f = total ? c / total : 0;
    x.push(h.edges[i], h.edges[i + 1]);
    y.push(f, f);
  });
  return { x, y };
}

// Histograms of H_l and of log10|δ_l| at the chosen layers (the run's ``hist``).
export function drawHist(svg, hist, layers, title) {
  const W = widthOf(svg);
  reset(svg, W, 300);
  let top = heading(svg, W, title);
  const all = hist.act.map((h) => h.layer);
  const chosen = all.filter((l) => layers.includes(l));
  const style = (l) => { const k = all.indexOf(l); return { color: COLORS[k % COLORS.length], dash: DASHES[k % DASHES.length] }; };
  top += legend(svg, 12, top + 12, W - 24, chosen.map((l) => ({ ...style(l), name: `layer ${l}` }))) + 6;
  const { boxes, height } = grid(W, 2, top, 170);
  const act0 = hist.act[0] ?? {};
  const actLabel = act0.log10 ? "log10 |H_l|" : act0.log10_scale ? `H_l (×${decade(Math.round(act0.log10_scale))})` : "H_l";
  const kinds = [
    { id: "hist-act", list: hist.act, title: "activations H_l", xLabel: actLabel },
    { id: "hist-delta", list: hist.delta, title: "gradients: log10 |δ_l|", xLabel: "log10 |δ_l|" },
  ];
  kinds.forEach((k, i) => {
    const lines = k.list.filter((h) => chosen.includes(h.layer)).map((h) => {
      const total = h.counts.reduce((a, b) => a + b, 0) + (h.zeros ?? 0);
      return { ...stepLine(h, total), ...style(h.layer), width: 1.8, name: `layer ${h.layer}`, series: `layer-${h.layer}` };
    });
    const edges = k.list[0]?.edges ?? [0, 1];
    const ymax = Math.max(0.01, ...lines.flatMap((l) => l.y));
    panel(svg, boxes[i], { id: k.id, title: k.title, xLabel: k.xLabel, lines,
      xDomain: [edges[0], edges[edges.length - 1]], yDomain: [0, ymax * 1.08], xLeast: 0,
      yFormat: (v) => `${Math.round(v * 1000) / 10}%` });
  });
  setHeight(svg, W, height);
}

// Training loss curves as they grow: runs = [{name, color, dash, steps: [], loss: []}].
export function drawLoss(svg, runs, steps, title) {
  const W = widthOf(svg);
  reset(svg, W, 360);
  let top = heading(svg, W, title);
  top += legend(svg, 12, top + 12, W - 24, runs.map((r) => ({ color: r.color, dash: r.dash, name: r.name }))) + 6;
  const { boxes, height } = grid(W, 1, top, 260);
  const lines = runs.map((r, i) => ({
    x: r.steps, y: r.loss.map((v) => (v !== null && v > 0 ? Math.log10(v) : null)),
    color: r.color, dash: r.dash, width: 2, name: r.name, series: i === 0 ? "current" : `pin-${i}`,
  }));
  panel(svg, boxes[0], { id: "loss", title: "training loss (log scale)", xLabel: "step",
    xDomain: [0, Math.max(1, steps)], xLeast: 1, lines });
  setHeight(svg, W, height);
}
