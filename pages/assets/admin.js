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
  $("#total-paid").textContent = `${credits(total.paid)} credits`;
  $("#total-promotional").textContent = `${credits(total.promotional)} credits`;
  const counts = [["standard", tiers.standard], ["gold", tiers.gold], ["platinum", tiers.platinum]];
  barChart($("#tier-chart"), counts, "Resellers per tier", { periods: false });
}

async function loadTop() {
  const form = $("#top-range");
  const by = form.by.value;
  const query = new URLSearchParams({ start: form.start.value, end: form.end.value, limit: "10", by });
  const top = await call("GET", `/analytics/top-resellers?${query}`);
  $("#top-caption").textContent = `Ranked by ${by === "spent" ? "credits spent" : "clients onboarded"} in the range`;
  fillTable($("#top"), top.items.map((r) => [r.refid, r.company, r.tier, credits(r.acquisitions), credits(r.credits_spent)]), [3, 4],
    "No reseller spent or onboarded anything in this range.");
}

async function loadUpgrades() {
  const month = $("#upgrade-month").month.value;
  const page = await call("GET", `/analytics/upgrade-candidates?month=${encodeURIComponent(month)}`);
  $("#upgrades").replaceChildren(
    ...page.items.map((c) => {
      // Setting the suggested tier is idempotent: a second click changes nothing.
      const upgrade = h("button", { type: "button", "aria-label": `Upgrade ${c.company} to ${c.suggested_tier}` },
        `To ${c.suggested_tier}`);
      upgrade.addEventListener("click", async () => {
        try {
          await call("PATCH", `/resellers/${c.refid}`, { body: { tier: c.suggested_tier } });
          notify("#upgrade-message", `${c.company} is ${c.suggested_tier} now.`);
          await loadUpgrades();
        } catch (problem) {
          notify("#upgrade-message", explain(problem), "error");
        }
      });
      return h("tr", {}, h("td", {}, c.refid), h("td", {}, c.company), h("td", {}, c.tier),
        h("td", { class: "num" }, credits(c.acquisitions)), h("td", {}, upgrade));
    }),
  );
}

function wireUpgrades() {
  $("#upgrade-month").month.value = daysAgo(0).slice(0, 7);
  $("#upgrade-month").addEventListener("submit", (event) => {
    event.preventDefault();
    loadUpgrades().catch((problem) => notify("#upgrade-message", explain(problem), "error"));
  });
}

async function loadTrend() {
  const interval = $("#trend-interval").value;
  const start = { daily: daysAgo(29), monthly: `${daysAgo(335).slice(0, 7)}-01`, yearly: `${Number(daysAgo(0).slice(0, 4)) - 4}-01-01` }[interval];
  const trend = await call("GET", `/analytics/credit-trends?${new URLSearchParams({ interval, start, end: daysAgo(0) })}`);
  const period = { daily: "day", monthly: "month", yearly: "year" }[interval];
  barChart($("#trend-chart"), Object.entries(trend), `Credits distributed per ${period}`);
}

async function loadResellerLedger() {
  const page = await call("GET", `/resellers/${state.reseller.refid}/transactions?limit=10`);
  $("#reseller-ledger").replaceChildren(
    ...page.items.map((entry) => {
      const left = entry.amount - (entry.reversed || 0);
      const reversible = ["credit", "reward"].includes(entry.kind) && left > 0;
      const action = reversible
        ? h("button", { type: "button", class: "quiet", "data-entry": entry.id, "data-left": left,
          "aria-label": `Reverse the ${entry.kind} of ${credits(entry.amount)} credits` }, "Reverse")
        : "";
      return h("tr", {},
        h("td", {}, new Date(entry.created_at).toLocaleString()),
        h("td", {}, entry.kind),
        h("td", { class: "num" }, credits(entry.amount)),
        h("td", { class: "num" }, credits(entry.reversed || 0)),
        h("td", {}, action));
    }),
  );
}

function wireReverse() {
  const form = $("#reverse");
  $("#reseller-ledger").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-entry]");
    if (!button) return;
    state.reversal = { entry: button.dataset.entry, key: newKey("reversal") };
    $("#reverse-entry").textContent = `Entry ${button.dataset.entry}: up to ${credits(Number(button.dataset.left))} credits.`;
    form.amount.value = button.dataset.left;
    form.hidden = false;
    form.reason.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { entry_id: state.reversal.entry, amount: Number(form.amount.value), reason: form.reason.value.trim() };
    try {
      const receipt = await call("POST", `/resellers/${state.reseller.refid}/reversals`, { body, key: state.reversal.key });
      notify("#reseller-message",
        `Reversed ${credits(receipt.reversed)} credits: balance ${credits(receipt.balance)}, owed ${credits(receipt.debt)}.`);
      $("#reseller-balance").textContent = credits(receipt.balance);
      form.reset();
      form.hidden = true;
      await loadResellerLedger();
      loadTotals().catch((problem) => notify("#page-message", explain(problem), "error"));
    } catch (problem) {
      notify("#reseller-message", explain(problem), "error");
    }
  });
}

function showReseller(reseller) {
  state.reseller = reseller;
  loadResellerLedger().catch((problem) => notify("#reseller-message", explain(problem), "error"));
  $("#reseller").hidden = false;
  $("#reseller-company").textContent = reseller.company;
  $("#reseller-refid").textContent = reseller.refid;
  $("#reseller-user").textContent = reseller.user_id;
  $("#reseller-balance").textContent = credits(reseller.balance);
  $("#reseller-tier").textContent = reseller.tier;
  $("#reseller-status").textContent = `${reseller.status}${reseller.hold_provisioning ? ", provisioning on hold" : ""}`;
  $("#reseller-parent").textContent = reseller.parent ? `${reseller.parent.company} (${reseller.parent.refid})` : "none";
  $("#move").parent.value = reseller.parent?.refid || "";
  loadChildren().catch((problem) => notify("#reseller-message", explain(problem), "error"));
  const change = $("#change");
  change.tier.value = reseller.tier;
  change.status.value = reseller.status;
  change.hold.checked = Boolean(reseller.hold_provisioning);
}

async function loadChildren() {
  const page = await call("GET", `/resellers/${state.reseller.refid}/sub-resellers?limit=100`);
  const names = page.items.map((c) => `${c.company} (${c.refid})`);
  $("#reseller-children").textContent = names.length ? names.join(", ") : "none";
}

function wireMove() {
  $("#move").addEventListener("submit", async (event) => {
    event.preventDefault();
    const parent = event.target.parent.value.trim();
    try {
      const moved = await call("PATCH", `/resellers/${state.reseller.refid}`, { body: { parent_refid: parent || null } });
      notify("#reseller-message", moved.parent ? `Moved under ${moved.parent.company}.` : "Moved to the top of the tree.");
      showReseller(moved);
    } catch (problem) {
      notify("#reseller-message", explain(problem), "error");
    }
  });
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
    const body = {
      amount: Number(form.amount.value),
      ...(form.reason.value.trim() ? { reason: form.reason.value.trim() } : {}),
      ...(form.promotional.checked ? { promotional: true } : {}),
      ...(form.expires.value ? { expires_at: new Date(form.expires.value).toISOString() } : {}),
    };
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
      loadResellerLedger().catch((problem) => notify("#reseller-message", explain(problem), "error"));
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
  wireMove();
  wireReverse();
  wireChange();
  wireUpgrades();
  await Promise.all([loadTop(), loadTrend(), loadUpgrades()]);
  document.body.dataset.ready = "true";
}

main().catch((problem) => notify("#page-message", explain(problem), "error"));
