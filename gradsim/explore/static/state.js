// gradsim explore: the page's whole state, and its URL. The query string holds every
// control that differs from its default (named as the API's keywords), the view (tab,
// prediction, histograms and their layers), the training settings and the pinned networks
// (pin=QUERY each), so a shared link restores the page.

export const state = {
  spec: null, // GET /api/options
  net: {}, // network option → text, as the controls hold it
  train: {}, // training setting → text
  view: { tab: "pass", theory: false, hist: true, layers: null },
  pins: [], // [{net: {...}}], at most spec.max_pins
};

export function defaults(kind) {
  return Object.fromEntries(state.spec[kind].map((c) => [c.dest, c.default]));
}

// Two texts of one control name the same value ("1" and "1.0" do).
function same(a, b) {
  const number = (x) => x.trim() !== "" && Number.isFinite(Number(x));
  return a === b || (number(a) && number(b) && Number(a) === Number(b));
}

function differing(kind, values) {
  const q = new URLSearchParams(), d = defaults(kind);
  for (const c of state.spec[kind]) {
    const v = values[c.dest] ?? d[c.dest];
    if (!same(v, d[c.dest])) q.set(c.dest, v);
  }
  return q;
}

// The network options that differ from their defaults, as query parameters.
export function netQuery(net = state.net) {
  return differing("network", net);
}

export function trainQuery() {
  return differing("train", state.train);
}

export function toURL() {
  const q = netQuery();
  const v = state.view;
  if (v.tab !== "pass") q.set("tab", v.tab);
  if (v.theory) q.set("theory", "1");
  if (!v.hist) q.set("hist", "0");
  if (v.layers) q.set("layers", v.layers.join(","));
  for (const [k, x] of trainQuery()) q.set(k, x);
  for (const p of state.pins) q.append("pin", netQuery(p.net).toString());
  const s = q.toString();
  return location.pathname + (s ? "?" + s : "");
}

function canonical(dest, value) {
  const aliases = state.spec.aliases[dest];
  return aliases && aliases[value] ? aliases[value] : value;
}

function readNet(q) {
  const net = defaults("network");
  for (const c of state.spec.network) {
    const key = c.dest === "activation" && q.has("act") ? "act" : c.dest;
    if (q.has(key)) net[c.dest] = canonical(c.dest, q.get(key));
  }
  return net;
}

export function fromURL(search) {
  const q = new URLSearchParams(search);
  state.net = readNet(q);
  state.train = defaults("train");
  for (const c of state.spec.train) if (q.has(c.dest)) state.train[c.dest] = q.get(c.dest);
  const layers = q.get("layers");
  state.view = {
    tab: q.get("tab") === "train" ? "train" : "pass",
    theory: q.get("theory") === "1",
    hist: q.get("hist") !== "0",
    layers: layers ? layers.split(",").map(Number).filter(Number.isFinite) : null,
  };
  state.pins = q.getAll("pin").slice(0, state.spec.max_pins).map((p) => ({ net: readNet(new URLSearchParams(p)) }));
}

// A network named by what differs from the defaults ("init=xavier_uniform depth=80").
export function describe(net) {
  const parts = [...netQuery(net)].map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(" ") : "defaults";
}
