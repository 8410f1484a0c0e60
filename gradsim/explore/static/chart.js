// gradsim explore: the charts, drawn as SVG by hand (no library, nothing from the network).
// Every curve keeps the values it draws in data-values, and every panel its axes in data-*
// attributes, so a test can read back what is on the screen.

const NS = "http://www.w3.org/2000/svg";
// Okabe & Ito's palette: told apart with every common colour-vision deficiency; the
// series differ by dash pattern too.
export const COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"];
export const DASHES = ["", "7 3", "2 3", "9 3 2 3", "4 2 1 2", "1 3"];
export const VERDICT_COLORS = {
  stable: "#009E73", vanishing: "#0072B2", exploding: "#E69F00", overflow: "#D55E00",
  learned: "#009E73", slow: "#E69F00", stalled: "#0072B2", diverged: "#D55E00",
};
const INK = "#1f2328", MUTED = "#59636e", GRID = "#d8dee4", FONT = "system-ui, sans-serif";
const SUP = { "-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶",
  "7": "⁷", "8": "⁸", "9": "⁹" };

export function el(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

// 10^x as people read it (gradsim.explain.pow10): plain from 0.01 to 1000, else m·10ⁿ (exact far past float64).
export function pow10(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  if (x >= -2 && x <= 3) return Number(Math.pow(10, x).toPrecision(3)).toString();
  let e = Math.floor(x), m = Math.pow(10, x - e);
  if (Number(m.toPrecision(digits)) >= 10) { m /= 10; e += 1; }
  const exp = String(e).split("").map((c) => SUP[c]).join("");
  return `${m.toPrecision(digits)}·10${exp}`;
}

export function decade(k) {
  return "10" + String(k).split("").map((c) => SUP[c]).join("");
}

function niceStep(span, target, least = 1) {
  const raw = span / target, p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return Math.max(least, m * p);
  return 10 * p;
}

function finite(values) {
  return values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
}

// The y-range of a log panel: the values, at least two decades, a little air.
function yRange(values) {
  const v = finite(values);
  let lo = v.length ? Math.min(...v) : -1, hi = v.length ? Math.max(...v) : 1;
  if (hi - lo < 2) { const c = (hi + lo) / 2; lo = c - 1; hi = c + 1; }
  const pad = (hi - lo) * 0.06;
  return [lo - pad, hi + pad];
}

// A path through (x_i, y_i), broken where a value is missing (non-finite in the run).
function pathOf(xs, ys, sx, sy) {
  let d = "", pen = false;
  xs.forEach((x, i) => {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) { pen = false; return; }
    d += `${pen ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
    pen = true;
  });
  return d;
}

// The y ticks [value, label]: whole decades on a log axis (and 2 and 5 times them when the
// axis spans less than three decades), or round numbers labelled by format.
function yTicks(y0, y1, format) {
  const out = [], step = niceStep(y1 - y0, 5, format ? 0 : 1), fine = !format && y1 - y0 < 3;
  const label = format ?? (fine ? (k) => pow10(k, 1) : decade);
  for (let k = Math.ceil(y0 / step) * step; k <= y1; k += step) out.push([k, label(k)]);
  if (fine)
    for (let k = Math.floor(y0); k <= y1; k++)
      for (const m of [2, 5]) {
        const v = k + Math.log10(m);
        if (v >= y0 && v <= y1) out.push([v, pow10(v, 1)]);
      }
  return out;
}

// One panel: log10 values against a linear x; lines = [{x, y, color, dash, width, name,
// series}]; bands = {hi, lo, dtype} shades where a plain computation over- or underflows.
export function panel(svg, box, spec) {
  const { x, y, w, h } = box, g = el("g", { class: "panel", "data-panel": spec.id }, svg);
  const [x0, x1] = spec.xDomain, [y0, y1] = spec.yDomain ?? yRange(spec.lines.flatMap((l) => l.y));
  const sx = (v) => x + ((v - x0) / (x1 - x0 || 1)) * w, sy = (v) => y + ((y1 - v) / (y1 - y0)) * h;
  Object.assign(g.dataset, { x0, x1, y0, y1, left: x, top: y, width: w, height: h });
  el("rect", { x, y, width: w, height: h, fill: "#fff", stroke: GRID }, g);
  const clip = `clip-${spec.id}`;
  el("rect", { x, y, width: w, height: h }, el("clipPath", { id: clip }, g));
  const inner = el("g", { "clip-path": `url(#${clip})` }, g);
  if (spec.bands) drawBands(inner, spec.bands, { x, w, y, h, sy, y0, y1 });
  for (const [k, text] of yTicks(y0, y1, spec.yFormat)) {
    el("line", { x1: x, x2: x + w, y1: sy(k), y2: sy(k), stroke: GRID }, inner);
    el("text", { x: x - 6, y: sy(k) + 4, "text-anchor": "end", "font-size": 11, fill: MUTED }, g, text);
  }
  const xstep = spec.xStep ?? niceStep(x1 - x0, 6, spec.xLeast ?? 1);
  for (let k = Math.ceil(x0 / xstep) * xstep; k <= x1 + 1e-9; k += xstep) {
    el("line", { x1: sx(k), x2: sx(k), y1: y + h, y2: y + h + 4, stroke: MUTED }, g);
    el("text", { x: sx(k), y: y + h + 16, "text-anchor": "middle", "font-size": 11, fill: MUTED },
      g, spec.xFormat ? spec.xFormat(k) : String(Math.round(k * 100) / 100));
  }
  for (const m of spec.marks ?? []) {
    el("line", { x1: sx(m.x), x2: sx(m.x), y1: y, y2: y + h, stroke: INK, "stroke-dasharray": "1 3" }, inner);
    el("text", { x: sx(m.x) + 4, y: y + 12, "font-size": 10, fill: INK }, inner, m.text);
  }
  for (const l of spec.lines) {
    const p = el("path", {
      d: pathOf(l.x, l.y, sx, sy), fill: "none", stroke: l.color, "stroke-width": l.width ?? 2,
      "stroke-dasharray": l.dash || null, "stroke-linejoin": "round", class: "curve",
      "data-series": l.series, "data-values": l.y.map((v) => (v === null ? "null" : v)).join(","),
      "data-x": l.x.join(","),
    }, inner);
    el("title", {}, p, l.name);
  }
  el("text", { x, y: y - 8, "font-size": 13, "font-weight": 600, fill: INK }, g, spec.title);
  el("text", { x: x + w / 2, y: y + h + 32, "text-anchor": "middle", "font-size": 12, fill: MUTED },
    g, spec.xLabel);
  return g;
}

function drawBands(g, b, { x, w, y, h, sy, y0, y1 }) {
  if (y1 > b.hi) {
    const top = y, bottom = Math.min(y + h, sy(b.hi));
    el("rect", { x, y: top, width: w, height: bottom - top, fill: "#D55E00", "fill-opacity": 0.13, class: "band-overflow" }, g);
    el("text", { x: x + w - 6, y: bottom - 5, "text-anchor": "end", "font-size": 10, fill: "#9a3a00" },
      g, `${b.dtype} overflows above ${pow10(b.hi)}`);
  }
  if (y0 < b.lo) {
    const top = Math.max(y, sy(b.lo));
    el("rect", { x, y: top, width: w, height: y + h - top, fill: "#56B4E9", "fill-opacity": 0.18, class: "band-underflow" }, g);
    el("text", { x: x + w - 6, y: top + 13, "text-anchor": "end", "font-size": 10, fill: "#005a8c" },
      g, `${b.dtype} underflows below ${pow10(b.lo)}`);
  }
}

// A row of legend entries [{color, dash, name}] from (x, y); returns the height used.
export function legend(svg, x, y, w, entries) {
  let cx = x, cy = y;
  for (const e of entries) {
    const width = 40 + 7.2 * e.name.length;
    if (cx + width > x + w && cx > x) { cx = x; cy += 18; }
    if (e.fill) el("rect", { x: cx, y: cy - 9, width: 24, height: 10, fill: e.fill, "fill-opacity": 0.3 }, svg);
    else el("line", { x1: cx, x2: cx + 24, y1: cy - 4, y2: cy - 4, stroke: e.color, "stroke-width": 2.5, "stroke-dasharray": e.dash || null }, svg);
    el("text", { x: cx + 30, y: cy, "font-size": 12, fill: INK }, svg, e.name);
    cx += width;
  }
  return cy - y + 18;
}

// Start a fresh chart of the given width; heading lines at the top.
export function reset(svg, width, height) {
  svg.replaceChildren();
  for (const [k, v] of Object.entries({ xmlns: NS, viewBox: `0 0 ${width} ${height}`, width, height, "font-family": FONT }))
    svg.setAttribute(k, v);
  el("rect", { x: 0, y: 0, width, height, fill: "#fff" }, svg);
}

// Lay out n panels of the chart's width: side by side when wide enough, else stacked.
export function grid(width, n, top, panelH, minW = 300) {
  const cols = width >= n * minW + 80 ? n : 1, gap = 70, left = 62;
  const pw = (width - left - 20 - (cols - 1) * gap) / cols;
  const boxes = [];
  for (let i = 0; i < n; i++) {
    const c = i % cols, r = Math.floor(i / cols);
    boxes.push({ x: left + c * (pw + gap), y: top + 22 + r * (panelH + 70), w: pw, h: panelH });
  }
  const rows = Math.ceil(n / cols);
  return { boxes, height: top + 22 + rows * (panelH + 70) - 20 };
}
