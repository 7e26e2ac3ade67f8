// The admin reports: outstanding credits, tier mix, top resellers, network trends, and a
// reseller's wallet, tier, status and hold.
import { call, newKey } from "ally/api";
import { barChart } from "ally/chart";
import { signedIn } from "ally/session";
import { $, credits, daysAgo, explain, fillTable, h, notify } from "ally/ui";

const state = { reseller: null, topUp: null, scope: null };

async function loadTotals() {
  const [total, tiers] = await Promise.all([call("GET", "/analytics/total-credits"), call("GET", "/analytics/tier-snapshot")]);
  $("#total").textContent = credits(total.total);
  const counts = [["standard", tiers.standard], ["gold", tiers.gold], ["platinum", tiers.platinum]];
  barChart($("#tier-chart"), counts, "Resellers per tier", { periods: false });
}

async function loadTop() {
  const form = $("#top-range");
  const query = new URLSearchParams({ start: form.start.value, end: form.end.value, limit: "10" });
  const top = await call("GET", `/analytics/top-resellers?${query}`);
  fillTable($("#top"), top.items.map((r) => [r.refid, r.company, r.tier, credits(r.acquisitions), credits(r.credits_spent)]), [3, 4]);
}

async function loadTrend() {
  const interval = $("#trend-interval").value;
  const start = { daily: daysAgo(29), monthly: `${daysAgo(335).slice(0, 7)}-01`, yearly: `${Number(daysAgo(0).slice(0, 4)) - 4}-01-01` }[interval];
  const trend = await call("GET", `/analytics/credit-trends?${new URLSearchParams({ interval, start, end: daysAgo(0) })}`);
  const period = { daily: "day", monthly: "month", yearly: "year" }[interval];
  barChart($("#trend-chart"), Object.entries(trend), `Credits distributed per ${period}`);
}

function showReseller(reseller) {
  state.reseller = reseller;
  $("#reseller").hidden = false;
  $("#reseller-company").textContent = reseller.company;
  $("#reseller-refid").textContent = reseller.refid;
  $("#reseller-user").textContent = reseller.user_id;
  $("#reseller-balance").textContent = credits(reseller.balance);
  $("#reseller-tier").textContent = reseller.tier;
  $("#reseller-status").textContent = `${reseller.status}${reseller.hold_provisioning ? ", provisioning on hold" : ""}`;
  const change = $("#change");
  change.tier.value = reseller.tier;
  change.status.value = reseller.status;
  change.hold.checked = Boolean(reseller.hold_provisioning);
}

function wireFind() {
  $("#find").addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = event.target.query.value.trim();
    try {
      // A refid is 10 characters of Crockford base 32; anything else is a user id.
      const reseller = /^[0-9A-HJKMNP-TV-Z]{10}$/.test(query)
        ? await call("GET", `/resellers/${query}`)
        : await call("GET", `/resellers?user_id=${encodeURIComponent(query)}`);
      notify("#find-message", "");
      showReseller(reseller);
    } catch (problem) {
      $("#reseller").hidden = true;
      notify("#find-message", problem.status === 404 ? `No reseller ${query}.` : explain(problem), "error");
    }
  });
}

/** Lists resellers of a tier and/or status, newest first, a page at a time. */
async function listScope(more) {
  const rows = $("#scope-rows");
  const query = new URLSearchParams({ ...state.scope, limit: "25" });
  if (more && state.scope.cursor) query.set("cursor", state.scope.cursor);
  else query.delete("cursor");
  const page = await call("GET", `/resellers?${query}`);
  if (!more) rows.replaceChildren();
  for (const reseller of page.items) {
    const open = h("button", { type: "button", class: "quiet" }, "Open");
    open.addEventListener("click", () => showReseller(reseller));
    rows.append(
      h("tr", {}, [
        h("td", {}, reseller.company),
        h("td", {}, reseller.refid),
        h("td", {}, reseller.tier),
        h("td", {}, reseller.status),
        h("td", { class: "num" }, credits(reseller.balance)),
        h("td", {}, open),
      ]),
    );
  }
  state.scope.cursor = page.next_cursor;
  $("#scope-list").hidden = false;
  $("#scope-more").hidden = !page.next_cursor;
  notify("#find-message", rows.children.length ? "" : "No reseller in this list.");
}

function wireScope() {
  $("#scope").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const scope = {};
    if (form.tier.value) scope.tier = form.tier.value;
    if (form.status.value) scope.status = form.status.value;
    if (!scope.tier && !scope.status) {
      notify("#find-message", "Choose a tier, a status or both.", "error");
      return;
    }
    state.scope = scope;
    await listScope(false).catch((problem) => notify("#find-message", explain(problem), "error"));
  });
  $("#scope-more").addEventListener("click", () =>
    listScope(true).catch((problem) => notify("#find-message", explain(problem), "error")),
  );
}

function wireCredit() {
  const form = $("#credit");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const refid = state.reseller.refid;
    const body = { amount: Number(form.amount.value), ...(form.reason.value.trim() ? { reason: form.reason.value.trim() } : {}) };
    // One key per intended top-up (this reseller, this amount and reason), kept until it
    // lands: a double click or a retry after a lost answer credits once.
    const intent = JSON.stringify([refid, body]);
    if (!state.topUp || state.topUp.intent !== intent) state.topUp = { intent, key: newKey("topup") };
    try {
      const receipt = await call("POST", `/resellers/${refid}/credits`, { body, key: state.topUp.key });
      state.topUp = null;
      notify("#reseller-message", `Added ${credits(receipt.transaction.amount)} credits: balance ${credits(receipt.balance)}.`);
      $("#reseller-balance").textContent = credits(receipt.balance);
      form.reset();
      loadTotals().catch((problem) => notify("#page-message", explain(problem), "error"));
    } catch (problem) {
      notify("#reseller-message", explain(problem), "error");
    }
  });
}

function wireChange() {
  $("#change").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { tier: form.tier.value, status: form.status.value, hold_provisioning: form.hold.checked };
    try {
      showReseller(await call("PATCH", `/resellers/${state.reseller.refid}`, { body }));
      notify("#reseller-message", "Saved.");
      loadTotals();
    } catch (problem) {
      notify("#reseller-message", explain(problem), "error");
    }
  });
}

async function main() {
  if (!(await signedIn())) return;
  const range = $("#top-range");
  range.start.value = daysAgo(29);
  range.end.value = daysAgo(0);
  try {
    await loadTotals();
  } catch (problem) {
    // A partner who opens this page sees no data: the API refuses every report to non-admins.
    notify("#page-message", explain(problem), "error");
    for (const card of document.querySelectorAll("main > section")) card.hidden = true;
    return;
  }
  range.addEventListener("submit", (event) => {
    event.preventDefault();
    loadTop().catch((problem) => notify("#page-message", explain(problem), "error"));
  });
  $("#trend-interval").addEventListener("change", loadTrend);
  wireFind();
  wireScope();
  wireCredit();
  wireChange();
  await Promise.all([loadTop(), loadTrend()]);
  document.body.dataset.ready = "true";
}

main().catch((problem) => notify("#page-message", explain(problem), "error"));
