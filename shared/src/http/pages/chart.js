// Bar charts drawn as SVG, with a text alternative for screen readers.
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, text) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * Replaces the content of `container` with a bar chart of `points` ([label, value] pairs).
 * `periods`: the points are periods of time (the summary says so). The drawing is as wide,
 * in its own units, as the container is in pixels (320 to 640), so its labels keep their
 * size on a phone.
 */
export function barChart(container, points, title, { periods = true } = {}) {
  container.chart = { points, title, periods };
  draw(container);
  resized.observe(container);
}

const widthFor = (container) => Math.round(Math.min(640, Math.max(320, container.clientWidth || 640)));

// A chart is drawn again when its container changes width (a phone turned, a window resized).
const resized = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    if (target.chart && target.chart.width !== widthFor(target)) draw(target);
  }
});

function draw(container) {
  const { points, title, periods } = container.chart;
  const width = widthFor(container);
  container.chart.width = width;
  const height = 220;
  const left = 48;
  const bottom = 28;
  const top = 10;
  const max = Math.max(1, ...points.map(([, value]) => value));
  const slot = (width - left - 8) / Math.max(1, points.length);
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  chart.append(svg("title", {}, title));
  chart.append(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom }));
  chart.append(svg("text", { x: left - 6, y: top + 8, "text-anchor": "end" }, max.toLocaleString("en-US")));
  chart.append(svg("text", { x: left - 6, y: height - bottom, "text-anchor": "end" }, "0"));
  // About one label per 80 units, so dates never overlap.
  const every = Math.ceil(points.length / Math.max(2, Math.floor((width - left) / 80)));
  points.forEach(([label, value], i) => {
    const barHeight = ((height - bottom - top) * value) / max;
    const x = left + i * slot + slot * 0.1;
    const bar = svg("rect", { class: "bar", x, y: height - bottom - barHeight, width: slot * 0.8, height: barHeight });
    bar.append(svg("title", {}, `${label}: ${value.toLocaleString("en-US")}`));
    chart.append(bar);
    if (i % every === 0) {
      chart.append(svg("text", { x: x + slot * 0.4, y: height - 10, "text-anchor": "middle" }, label));
    }
  });
  const summary = document.createElement("p");
  summary.className = "muted";
  const total = points.reduce((sum, [, value]) => sum + value, 0);
  summary.textContent = periods
    ? `${title}: ${total.toLocaleString("en-US")} in all over ${points.length} periods.`
    : `${title}: ${points.map(([label, value]) => `${label} ${value.toLocaleString("en-US")}`).join(", ")}.`;
  container.replaceChildren(chart, summary);
}
