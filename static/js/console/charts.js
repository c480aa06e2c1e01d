// Small SVG charts drawn by our own code (no library, no CDN): grouped bars and a line.
// Each mark is an element with class "mark" and, when it has one, a link (href) to the cases
// behind it. Sizes are in viewBox units: the SVG scales to its box, so a phone shows it whole.

const NS = "http://www.w3.org/2000/svg";
const W = 360;
const H = 200;
const PAD = { top: 14, right: 8, bottom: 34, left: 40 };

function svgEl(name, attrs = {}, text = null) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function frame(title, max, format) {
  const svg = svgEl("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": title,
    class: "chart-svg",
    preserveAspectRatio: "xMidYMid meet",
  });
  svg.append(svgEl("title", {}, title));
  const plotH = H - PAD.top - PAD.bottom;
  for (const f of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - f);
    svg.append(svgEl("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid" }));
    svg.append(svgEl("text", { x: PAD.left - 4, y: y + 3, class: "axis", "text-anchor": "end" }, format(max * f)));
  }
  return svg;
}

function xLabels(svg, labels, step) {
  const every = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((label, i) => {
    if (i % every) return;
    const x = PAD.left + step * (i + 0.5);
    svg.append(svgEl("text", { x, y: H - PAD.bottom + 14, class: "axis", "text-anchor": "middle" }, label));
  });
}

function wrapLink(node, href, label) {
  if (!href) return node;
  const a = svgEl("a", { href, "aria-label": label });
  a.append(node);
  return a;
}

/**
 * Grouped bars. `series`: [{name, cls, values: [number], hrefs?: [string]}], `labels`: x labels.
 */
export function barChart({ title, labels, series, format = (v) => String(Math.round(v)) }) {
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  const svg = frame(title, max, format);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / Math.max(1, labels.length);
  const barW = Math.max(1, (step * 0.8) / series.length);
  series.forEach((s, k) => {
    s.values.forEach((value, i) => {
      const h = (plotH * value) / max;
      const x = PAD.left + step * i + step * 0.1 + barW * k;
      const rect = svgEl("rect", {
        x,
        y: PAD.top + plotH - h,
        width: barW,
        height: Math.max(h, value > 0 ? 1 : 0),
        class: `mark ${s.cls}`,
        "data-value": value,
      });
      rect.append(svgEl("title", {}, `${labels[i]} ${s.name}: ${format(value)}`));
      svg.append(wrapLink(rect, s.hrefs?.[i], `${labels[i]} ${s.name}`));
    });
  });
  xLabels(svg, labels, step);
  return svg;
}

/** A line with a dot per point; `null` values leave a gap. */
export function lineChart({ title, labels, values, hrefs = [], format = (v) => String(v), max = null, cls = "s1" }) {
  const top = max ?? niceMax(Math.max(0, ...values.filter((v) => v !== null)));
  const svg = frame(title, top, format);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / Math.max(1, labels.length);
  const point = (v, i) => [PAD.left + step * (i + 0.5), PAD.top + plotH * (1 - v / top)];
  let path = "";
  let pen = "M";
  values.forEach((v, i) => {
    if (v === null) {
      pen = "M";
      return;
    }
    const [x, y] = point(v, i);
    path += `${pen}${x.toFixed(1)},${y.toFixed(1)} `;
    pen = "L";
  });
  svg.append(svgEl("path", { d: path.trim() || "M0,0", class: `line ${cls}` }));
  values.forEach((v, i) => {
    if (v === null) return;
    const [x, y] = point(v, i);
    const dot = svgEl("circle", { cx: x, cy: y, r: 4, class: `mark ${cls}`, "data-value": v });
    dot.append(svgEl("title", {}, `${labels[i]}: ${format(v)}`));
    svg.append(wrapLink(dot, hrefs[i], labels[i]));
  });
  xLabels(svg, labels, step);
  return svg;
}
