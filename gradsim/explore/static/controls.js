// gradsim explore: the controls, built from GET /api/options (the option registry and the
// variant registries), so every activation and initializer gradsim knows is offered. Native
// inputs only: each works from the keyboard (Tab, arrows, Home/End, typing).

function make(tag, props = {}, parent = null) {
  const node = Object.assign(document.createElement(tag), props);
  if (parent) parent.appendChild(node);
  return node;
}

function rangeControl(row, c, id, values, changed) {
  const range = make("input", { type: "range", id, min: c.low, max: c.high, step: c.step }, row);
  const num = make("input", { type: "number", id: `${id}-value`, step: c.step === "any" ? "any" : c.step,
    className: "value" }, row);
  num.setAttribute("aria-label", `${c.label} (value)`);
  range.addEventListener("input", (e) => { values[c.dest] = range.value; num.value = range.value; changed(c.dest, e); });
  num.addEventListener("input", (e) => {
    values[c.dest] = num.value;
    if (num.value !== "" && Number.isFinite(Number(num.value))) range.value = num.value;
    changed(c.dest, e);
  });
}

function selectControl(row, c, id, values, changed) {
  const select = make("select", { id }, row);
  for (const ch of c.choices) {
    const text = ch.value === "" ? `(${ch.title.replace(/ \(.*/, "")})` : ch.value;
    make("option", { value: ch.value, textContent: text, title: ch.title }, select);
  }
  select.addEventListener("change", (e) => { values[c.dest] = select.value; changed(c.dest, e); });
}

// Build one form's controls: specs from /api/options, values the state they edit,
// changed(dest, event) called on every change.
export function buildControls(form, specs, values, changed, prefix) {
  form.replaceChildren();
  for (const c of specs) {
    const row = make("div", { className: `ctl ctl-${c.kind}` }, form);
    const id = `${prefix}-${c.dest}`;
    const label = make("label", { htmlFor: id, textContent: c.label, title: c.help });
    if (c.kind === "check") {
      const box = make("input", { type: "checkbox", id }, row);
      row.appendChild(label);
      box.addEventListener("change", (e) => { values[c.dest] = box.checked ? "1" : "0"; changed(c.dest, e); });
      continue;
    }
    row.appendChild(label);
    if (c.kind === "range") rangeControl(row, c, id, values, changed);
    else if (c.kind === "select") selectControl(row, c, id, values, changed);
    else {
      const num = make("input", { type: "number", id, min: c.low ?? "", step: c.step }, row);
      num.addEventListener("input", (e) => { values[c.dest] = num.value; changed(c.dest, e); });
    }
  }
}

// Show the state's values in the controls (after reading a URL, or loading a pin).
export function showValues(specs, values, prefix) {
  for (const c of specs) {
    const node = document.getElementById(`${prefix}-${c.dest}`), v = values[c.dest];
    if (c.kind === "check") node.checked = v === "1";
    else node.value = v;
    const num = document.getElementById(`${prefix}-${c.dest}-value`);
    if (num) num.value = v;
  }
}
