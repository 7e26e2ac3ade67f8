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
 * `periods`: the points are periods of time (the summary says so). `series`: the names of
 * several values per point ([label, [value, ...]] pairs), drawn side by side in each period
 * with a legend. The drawing is as wide, in its own units, as the container is in pixels
 * (320 to 640), so its labels keep their size on a phone.
 */
export function barChart(container, points, title, { periods = true, series = null } = {}) {
  const names = series || [title];
  const rows = points.map(([label, value]) => [label, series ? value : [value]]);
  container.chart = { rows, names, title, periods };
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
  const { rows, names, title, periods } = container.chart;
  const width = widthFor(container);
  container.chart.width = width;
  const height = 220;
  const left = 48;
  const bottom = 28;
  const top = 10;
  const max = Math.max(1, ...rows.flatMap(([, values]) => values));
  const slot = (width - left - 8) / Math.max(1, rows.length);
  const barWidth = (slot * 0.8) / names.length;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  chart.append(svg("title", {}, title));
  chart.append(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom }));
  chart.append(svg("text", { x: left - 6, y: top + 8, "text-anchor": "end" }, max.toLocaleString("en-US")));
  chart.append(svg("text", { x: left - 6, y: height - bottom, "text-anchor": "end" }, "0"));
  // About one label per 80 units, so dates never overlap.
  const every = Math.ceil(rows.length / Math.max(2, Math.floor((width - left) / 80)));
  rows.forEach(([label, values], i) => {
    const x = left + i * slot + slot * 0.1;
    values.forEach((value, s) => {
      const barHeight = ((height - bottom - top) * value) / max;
      const bar = svg("rect", {
        class: `bar series-${s}`, x: x + s * barWidth, y: height - bottom - barHeight, width: barWidth, height: barHeight,
      });
      const name = names.length > 1 ? ` ${names[s].toLowerCase()}` : "";
      bar.append(svg("title", {}, `${label}${name}: ${value.toLocaleString("en-US")}`));
      chart.append(bar);
    });
    if (i % every === 0) {
      chart.append(svg("text", { x: x + slot * 0.4, y: height - 10, "text-anchor": "middle" }, label));
    }
  });
  const summary = document.createElement("p");
  summary.className = "muted";
  const amount = (value) => value.toLocaleString("en-US");
  const totals = names.map((name, s) => [name, rows.reduce((sum, [, values]) => sum + values[s], 0)]);
  if (!periods) {
    summary.textContent = `${title}: ${rows.map(([label, [value]]) => `${label} ${amount(value)}`).join(", ")}.`;
  } else if (names.length === 1) {
    summary.textContent = `${title}: ${amount(totals[0][1])} in all over ${rows.length} periods.`;
  } else {
    const each = totals.map(([name, total]) => `${name.toLowerCase()} ${amount(total)}`).join(", ");
    summary.textContent = `${title}: ${each} in all over ${rows.length} periods.`;
  }
  const parts = [chart, summary];
  if (names.length > 1) {
    const legend = document.createElement("p");
    legend.className = "legend";
    legend.setAttribute("aria-hidden", "true");
    names.forEach((name, s) => {
      const swatch = document.createElement("span");
      swatch.className = `swatch series-${s}`;
      legend.append(swatch, ` ${name} `);
    });
    parts.splice(1, 0, legend);
  }
  container.replaceChildren(...parts);
}
