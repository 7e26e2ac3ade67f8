// Small DOM helpers shared by the pages.

/** The deployment's settings, from the page's <meta name="ally-config">. */
export const config = JSON.parse(document.querySelector('meta[name="ally-config"]').content);

/** Builds an element: h("td", {class: "num"}, "12"). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const $ = (selector) => document.querySelector(selector);

/** Whole credits with thousands separators. */
export function credits(amount) {
  return Number(amount).toLocaleString("en-US");
}

/** Shows `text` in the notice element `target` (an aria-live region), as "ok" or "error". */
export function notify(target, text, kind = "ok") {
  const element = typeof target === "string" ? $(target) : target;
  element.className = `notice ${kind}`;
  element.textContent = text;
}

/** A plain sentence for an API refusal. */
export function explain(problem) {
  switch (problem.code) {
    case "insufficient_credits":
      return `Not enough credits: ${problem.message}. Ask your administrator for a top-up.`;
    case "provisioning_on_hold":
      return "Provisioning is on hold for your account. Contact your administrator to lift the hold.";
    case "reseller_inactive":
      return "Your account is suspended: nothing can be provisioned.";
    case "tier_not_allowed":
      return `Your tier may not sell this product. ${problem.message}`;
    case "forbidden":
      return "This is for administrators only.";
    case "hold_closed":
      return "This hold is already captured, voided or past its end.";
    default:
      return problem.message || String(problem);
  }
}

/** Dates as the API takes them: YYYY-MM-DD, `days` back from today. */
export function daysAgo(days) {
  const date = new Date(Date.now() - days * 86_400_000);
  return date.toISOString().slice(0, 10);
}

/**
 * Fills a table body with rows of cells; `numeric` lists the columns aligned right. With no
 * rows, one line says `empty` (what there is to do) across the table.
 */
export function fillTable(tbody, rows, numeric = [], empty = "Nothing yet.") {
  if (!rows.length) {
    const columns = tbody.closest("table")?.querySelectorAll("thead th").length || 1;
    tbody.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: columns }, empty)));
    return;
  }
  tbody.replaceChildren(
    ...rows.map((cells) => h("tr", {}, cells.map((cell, i) => h("td", { class: numeric.includes(i) ? "num" : null }, cell)))),
  );
}
