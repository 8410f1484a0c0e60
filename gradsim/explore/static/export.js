// gradsim explore: what the page exports: a chart as a standalone SVG file or as a PNG
// (the SVG drawn on a canvas at twice its size), and JSON (written by explore.js).

export function download(blob, name) {
  const a = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function svgText(svg) {
  const copy = svg.cloneNode(true);
  copy.removeAttribute("id");
  for (const k of Object.keys(copy.dataset)) delete copy.dataset[k];
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(copy);
}

export function exportChart(svg, fmt) {
  const text = svgText(svg), name = `gradsim-${svg.id}`;
  const blob = new Blob([text], { type: "image/svg+xml" });
  if (fmt === "svg") return download(blob, `${name}.svg`);
  const width = Number(svg.getAttribute("width")), height = Number(svg.getAttribute("height"));
  const img = new Image();
  img.onload = () => {
    const canvas = Object.assign(document.createElement("canvas"), { width: 2 * width, height: 2 * height });
    const ctx = canvas.getContext("2d");
    ctx.scale(2, 2);
    ctx.drawImage(img, 0, 0, width, height);
    URL.revokeObjectURL(img.src);
    canvas.toBlob((png) => download(png, `${name}.png`), "image/png");
  };
  img.src = URL.createObjectURL(blob);
}
