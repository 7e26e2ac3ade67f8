// The partner dashboard: wallet, provisioning, clients, bulk onboarding, ledger, trends
// (alerts and auto top-up in ally/alerts).
import { call, newKey } from "ally/api";
import { barChart } from "ally/chart";
import { loadAlerts, loadAutoTopUp, wireAlerts, wireAutoTopUp } from "ally/alerts";
import { INVITE, signedIn } from "ally/session";
import { $, config, credits, daysAgo, explain, fillTable, h, notify } from "ally/ui";

const state = { me: null, products: [], clients: [], children: [], cursor: null };

const discountOf = (tier) => config.discounts[tier] ?? 0;
// The server's rounding: up to whole credits.
const priceAt = (base, tier) => Math.ceil((base * (100 - discountOf(tier))) / 100);

function skin(me) {
  const metadata = me.metadata || {};
  $("#company").textContent = metadata.company_name || me.company;
  document.title = `${metadata.company_name || me.company}: partner dashboard`;
  if (/^#[0-9a-fA-F]{6}$/.test(metadata.primary_color || "")) {
    document.documentElement.style.setProperty("--brand", metadata.primary_color);
  }
  if (/^https:\/\//.test(metadata.logo_url || "")) {
    $("#logo").src = metadata.logo_url;
    $("#logo").alt = `${metadata.company_name || me.company} logo`;
    $("#logo").hidden = false;
  }
}

async function loadWallet() {
  const me = await call("GET", "/resellers/me");
  state.me = me;
  skin(me);
  const low = me.balance < config.lowCreditThreshold;
  $("#balance").textContent = `${credits(me.balance)} credits`;
  $("#balance").classList.toggle("low", low);
  const badge = $("#balance-state");
  badge.classList.toggle("low", low);
  badge.textContent = low ? `Low: below ${credits(config.lowCreditThreshold)} credits` : "Balance is fine";
  $("#available").textContent = `${credits(me.available)} credits`;
  $("#held").textContent = `${credits(me.held)} credits`;
  $("#debt").textContent = `${credits(me.debt)} credits`;
  $("#debt-line").hidden = !me.debt;
  $("#expiring").textContent = `${credits(me.expiring_30d)} credits`;
  $("#expiring-line").hidden = !me.expiring_30d;
  $("#runway").textContent =
    me.runway_days === null || me.runway_days === undefined
      ? "no spending in the last 30 days"
      : `about ${credits(me.runway_days)} days at your spending of the last 30 days`;
  $("#parent").textContent = me.parent ? `${me.parent.company} (${me.parent.refid})` : "";
  $("#parent-line").hidden = !me.parent;
  // Stripe's Payment Link, told who pays: the payment comes back through the Stripe webhook.
  if (config.paymentLink) {
    const buy = new URL(config.paymentLink);
    buy.searchParams.set("client_reference_id", me.refid);
    if (me.email) buy.searchParams.set("prefilled_email", me.email);
    $("#buy-credits").href = buy.toString();
    $("#buy-line").hidden = false;
  }
  $("#tier").textContent = me.tier;
  $("#discount").textContent = `${discountOf(me.tier)} % off every base price`;
  if (me.hold_provisioning) notify("#profile-message", "Provisioning is on hold for your account.", "error");
}

/**
 * The catalog in a product menu, the first product the partner's tier may sell chosen;
 * "Custom price" last, and the custom base price asked for only when it is chosen.
 */
function productOptions(select) {
  select.replaceChildren(
    ...state.products.map((p) =>
      h("option", { value: p.id, disabled: !p.allowed }, `${p.name}: ${credits(p.price)} credits${p.allowed ? "" : " (not for your tier)"}`),
    ),
    h("option", { value: "" }, "Custom price"),
  );
  select.value = state.products.find((p) => p.allowed)?.id ?? "";
  const custom = () => {
    select.form.cost.closest("label").hidden = select.value !== "";
  };
  select.addEventListener("change", custom);
  select.form.addEventListener("reset", () => setTimeout(() => {
    select.value = state.products.find((p) => p.allowed)?.id ?? "";
    custom();
  }));
  custom();
}

async function loadProducts() {
  state.products = (await call("GET", "/products")).items;
  productOptions($("#product"));
  productOptions($("#bulk-product"));
  productOptions($("#hold-product"));
}

function renderClients() {
  const query = $("#client-search").value.trim().toLowerCase();
  const shown = state.clients.filter(
    (c) => !query || c.name.toLowerCase().includes(query) || (c.email || "").toLowerCase().includes(query),
  );
  const none = state.clients.length ? "No client matches the search." : "No client yet: onboard one, or many from a CSV, below.";
  fillTable($("#clients"), shown.map((c) => [c.name, c.email || "", new Date(c.created_at).toLocaleDateString()]), [], none);
  $("#clients-caption").textContent = `${shown.length} of ${state.clients.length} clients loaded, newest first`;
  $("#clients-more").hidden = !state.cursor;
  $("#provision-client").replaceChildren(
    h("option", { value: "" }, "No client"),
    ...state.clients.map((c) => h("option", { value: c.id }, c.name)),
  );
}

async function loadClients(more = false) {
  const query = more && state.cursor ? `&cursor=${encodeURIComponent(state.cursor)}` : "";
  const page = await call("GET", `/clients?limit=20${query}`);
  state.clients = more ? state.clients.concat(page.items) : page.items;
  state.cursor = page.next_cursor || null;
  renderClients();
}

/** What each kind of entry is, in words. */
const KINDS = {
  credit: "Credit added",
  debit: "Spent",
  reversal: "Taken back",
  debt_repayment: "Debt repaid",
  expiry: "Expired",
  transfer_out: "Passed on",
  transfer_in: "Received",
  refund: "Given back",
  reward: "Referral reward",
  commission: "Commission",
};

/** Who made an entry, in words: you, an administrator, a reseller by refid, or Ally. */
function madeBy(entry) {
  if (entry.actor === state.me.user_id) return "you";
  if (entry.actor === "admin") return "an administrator";
  if (entry.actor.startsWith("reseller:")) return `reseller ${entry.actor.slice("reseller:".length)}`;
  if (entry.actor.startsWith("webhook:")) return `a payment (${entry.actor.slice("webhook:".length)})`;
  return { referral: "a referral", commission: "your sub-resellers' spending", expiry: "its expiry" }[entry.actor] || entry.actor;
}

/** A reason without the ids in it (long tokens of letters, digits and underscores). */
const plainReason = (reason) => reason.replace(/\b(?=[A-Za-z0-9_]*\d)[A-Za-z0-9_]{14,}\b/g, "…").trim();

async function loadLedger() {
  const page = await call("GET", "/resellers/me/transactions?limit=10");
  const out = ["debit", "reversal", "debt_repayment", "expiry", "transfer_out"];
  const sign = (e) => (out.includes(e.kind) ? "-" : "+");
  if (!page.items.length) return fillTable($("#ledger"), [], [], "No movement yet: a top-up or a payment starts your ledger.");
  $("#ledger").replaceChildren(
    ...page.items.map((e) =>
      h("tr", {},
        h("td", {}, new Date(e.created_at).toLocaleString()),
        h("td", {}, KINDS[e.kind] || e.kind),
        h("td", { class: "num" }, `${sign(e)}${credits(e.amount)}`),
        h("td", { class: "num" }, credits(e.balance_after)),
        h("td", { class: "wrap" },
          plainReason(e.reason || "") || `By ${madeBy(e)}`,
          h("details", {},
            h("summary", {}, "Details"),
            h("p", {}, `By ${madeBy(e)}.`, e.reason ? ` Reason: ${e.reason}.` : ""),
            h("p", {}, "Entry ", h("code", {}, e.id), ", key ", h("code", {}, e.idempotency_key)),
          ),
        ),
      ),
    ),
  );
}

async function loadTrend() {
  const daily = $("#trend-interval").value === "daily";
  const start = daily ? daysAgo(29) : `${daysAgo(335).slice(0, 7)}-01`;
  const query = { interval: daily ? "daily" : "monthly", start, end: daysAgo(0), reseller: state.me.refid };
  const trend = (measure) => call("GET", `/analytics/credit-trends?${new URLSearchParams({ ...query, measure })}`);
  const [added, spent] = await Promise.all([trend("added"), trend("spent")]);
  const points = Object.entries(added).map(([period, value]) => [period, [value, spent[period] ?? 0]]);
  const title = daily ? "Credits added and spent per day" : "Credits added and spent per month";
  barChart($("#trend-chart"), points, title, { series: ["Added", "Spent"] });
}

/** What one service or client costs the partner: base and tier price, from the form. */
function unitPrice(form) {
  const product = state.products.find((p) => p.id === form.product.value);
  if (product) return { body: { product: product.id }, base: product.base_price, price: product.price, label: product.name };
  const cost = Number(form.cost.value);
  if (!Number.isInteger(cost) || cost < 1) return null;
  return { body: { cost }, base: cost, price: priceAt(cost, state.me.tier), label: "A custom service" };
}

/**
 * A purchase in two steps: the form's submit shows what it will cost (`review` answers
 * `{body, summary}`, or a sentence saying what is missing), the confirm button pays.
 * Elements are `#<name>`, `#<name>-review`, `-summary`, `-confirm`, `-cancel`, `-message`.
 * Answers the function that drops a pending review.
 */
function purchase({ name, path, review, done, refresh }) {
  const form = $(`#${name}`);
  let pending = null;
  // One key per intended purchase, kept until it is paid: a double click, a retry after a
  // lost answer, or reviewing the same purchase again pays once.
  let intent = null;
  const reset = () => {
    pending = null;
    $(`#${name}-review`).hidden = true;
  };
  form.addEventListener("input", reset);
  $(`#${name}-cancel`).addEventListener("click", reset);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const outcome = review(form);
    if (typeof outcome === "string") return notify(`#${name}-message`, outcome, "error");
    const json = JSON.stringify(outcome.body);
    if (!intent || intent.json !== json) intent = { json, key: newKey(name) };
    pending = { body: outcome.body, key: intent.key };
    $(`#${name}-summary`).textContent = outcome.summary;
    $(`#${name}-review`).hidden = false;
    $(`#${name}-confirm`).focus();
  });
  $(`#${name}-confirm`).addEventListener("click", async () => {
    if (!pending) return;
    const button = $(`#${name}-confirm`);
    button.disabled = true;
    let receipt;
    try {
      receipt = await call("POST", path, pending);
    } catch (problem) {
      notify(`#${name}-message`, explain(problem), "error");
      return;
    } finally {
      button.disabled = false;
    }
    intent = null;
    notify(`#${name}-message`, done(receipt));
    form.reset();
    reset();
    // Paid: a failed reload is reported as such, never as a failed purchase.
    refresh().catch((problem) => notify("#profile-message", `Could not reload: ${explain(problem)}`, "error"));
  });
  return reset;
}

const MISSING_PRICE = "Choose a product or give a base price of at least 1 credit.";

function wireProvision() {
  purchase({
    name: "provision",
    path: "/provision",
    review: (form) => {
      const unit = unitPrice(form);
      if (!unit) return MISSING_PRICE;
      const client = state.clients.find((c) => c.id === form.client.value);
      return {
        body: { ...unit.body, ...(client ? { client_id: client.id } : {}) },
        summary:
          `${unit.label}${client ? ` for ${client.name}` : ""}: ${credits(unit.price)} credits ` +
          `(base ${credits(unit.base)}, ${state.me.tier} ${discountOf(state.me.tier)} % off). ` +
          `Balance after: ${credits(state.me.balance - unit.price)}.`,
      };
    },
    done: (receipt) => `Provisioned. ${credits(receipt.cost)} credits charged; balance ${credits(receipt.balance)}.`,
    refresh: () => Promise.all([loadWallet(), loadLedger(), loadLots()]),
  });
}

async function loadHolds() {
  const page = await call("GET", "/holds?status=active&limit=50");
  const action = (kind, hold, text, quiet) =>
    h("button", { type: "button", class: quiet ? "quiet" : null, [`data-${kind}`]: hold.id,
      "aria-label": `${text} the hold of ${credits(hold.amount)} credits` }, text);
  if (!page.items.length) return fillTable($("#holds"), [], [], "No active hold: reserve one above while a service is built.");
  $("#holds").replaceChildren(
    ...page.items.map((hold) =>
      h("tr", {},
        h("td", {}, state.products.find((p) => p.id === hold.product)?.name || "A custom service"),
        h("td", { class: "num" }, credits(hold.amount)),
        h("td", {}, new Date(hold.expires_at).toLocaleString()),
        h("td", {}, action("capture", hold, "Capture", false), " ", action("void", hold, "Void", true)),
      ),
    ),
  );
}

async function loadLots() {
  const page = await call("GET", "/resellers/me/lots?limit=50");
  const ends = (lot) => {
    if (!lot.expires_at) return "Never";
    const when = new Date(lot.expires_at).toLocaleString();
    if (lot.expired) return `${when} (${credits(lot.expired)} expired)`;
    return new Date(lot.expires_at) <= new Date() ? `${when} (expired)` : when;
  };
  if (!page.items.length) return fillTable($("#lots"), [], [], "No credit yet: top up or buy credits to open your first lot.");
  $("#lots").replaceChildren(
    ...page.items.map((lot) =>
      h("tr", {},
        h("td", {}, lot.kind === "promotional" ? "Promotional" : "Paid"),
        h("td", { class: "num" }, credits(lot.amount)),
        h("td", { class: "num" }, credits(lot.remaining)),
        h("td", {}, ends(lot)),
      ),
    ),
  );
}

async function loadSubResellers() {
  const page = await call("GET", "/resellers/me/sub-resellers?limit=100");
  state.children = page.items;
  if (!page.items.length) fillTable($("#sub-resellers"), [], [], "No sub-reseller yet: send the invite link above to a partner.");
  else $("#sub-resellers").replaceChildren(
    ...page.items.map((c) =>
      h("tr", {},
        h("td", {}, c.company),
        h("td", {}, c.refid),
        h("td", {}, c.tier),
        h("td", {}, c.status),
        h("td", { class: "num" }, credits(c.balance)),
        h("td", { class: "num" }, credits(c.clients)),
        h("td", { class: "num" }, credits(c.credits_spent_month)),
      ),
    ),
  );
  const chosen = $("#transfer-to").value;
  $("#transfer-to").replaceChildren(...page.items.map((c) => h("option", { value: c.refid }, `${c.company} (${c.refid})`)));
  if (page.items.some((c) => c.refid === chosen)) $("#transfer-to").value = chosen;
  $("#transfer").hidden = page.items.length === 0;
}

function wireTransfer() {
  purchase({
    name: "transfer",
    path: "/resellers/me/transfers",
    review: (form) => {
      const child = state.children.find((c) => c.refid === form.to.value);
      const amount = Number(form.amount.value);
      if (!child) return "Choose a sub-reseller.";
      if (!Number.isInteger(amount) || amount < 1) return "Give at least 1 credit to pass.";
      const note = form.note.value.trim();
      return {
        body: { to_refid: child.refid, amount, ...(note ? { note } : {}) },
        summary:
          `Pass ${credits(amount)} credits to ${child.company} (${child.refid}). ` +
          `Your balance after: ${credits(state.me.balance - amount)}; theirs: ${credits(child.balance + amount)}.`,
      };
    },
    done: (receipt) => `Passed ${credits(receipt.transaction.amount)} credits to ${receipt.to.refid}; balance ${credits(receipt.balance)}.`,
    refresh: () => Promise.all([loadWallet(), loadLedger(), loadLots(), loadSubResellers()]),
  });
}

function wireHolds() {
  const refresh = () => Promise.all([loadWallet(), loadHolds(), loadLedger(), loadLots()]);
  $("#hold").addEventListener("submit", async (event) => {
    event.preventDefault();
    const unit = unitPrice($("#hold"));
    if (!unit) return notify("#hold-message", MISSING_PRICE, "error");
    try {
      const receipt = await call("POST", "/holds", { body: unit.body, key: newKey("hold") });
      notify("#hold-message", `${credits(receipt.hold.amount)} credits reserved; ${credits(receipt.available)} available.`);
      $("#hold").reset();
      await refresh();
    } catch (problem) {
      notify("#hold-message", explain(problem), "error");
    }
  });
  // One key per click: a capture or void of a closed hold is refused (409), never done twice.
  $("#holds").addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const [kind, id] = button.dataset.capture ? ["capture", button.dataset.capture] : ["void", button.dataset.void];
    button.disabled = true;
    try {
      const receipt = await call("POST", `/holds/${id}/${kind}`, { body: kind === "capture" ? {} : undefined, key: newKey(kind) });
      notify("#hold-message", kind === "capture"
        ? `Captured: ${credits(receipt.cost)} credits charged, ${credits(receipt.released)} released.`
        : `Voided: ${credits(receipt.released)} credits released.`);
      await refresh();
    } catch (problem) {
      notify("#hold-message", explain(problem), "error");
      button.disabled = false;
    }
  });
}

function wireOnboard() {
  const form = $("#onboard");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: form.name.value.trim(), ...(form.email.value.trim() ? { email: form.email.value.trim() } : {}) };
    try {
      const client = await call("POST", "/clients", { body });
      state.clients.unshift(client);
      renderClients();
      form.reset();
      notify("#onboard-message", `${client.name} is onboarded.`);
    } catch (problem) {
      notify("#onboard-message", explain(problem), "error");
    }
  });
}

/** `name,email` lines; a first line naming the columns is skipped; quotes are honoured. */
export function parseCsv(text) {
  // Spreadsheets often start the file with a byte-order mark.
  const rows = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((line) => line.trim()).map((line) => {
    const cells = [];
    let cell = "";
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quoted && c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = !quoted;
      } else if (c === "," && !quoted) {
        cells.push(cell.trim());
        cell = "";
      } else {
        cell += c;
      }
    }
    cells.push(cell.trim());
    return cells;
  });
  if (rows.length && rows[0][0].toLowerCase() === "name") rows.shift();
  return rows.map(([name, email]) => (email ? { name, email } : { name }));
}

function wireBulk() {
  const reset = purchase({
    name: "bulk",
    path: "/clients/bulk",
    review: (form) => {
      const clients = parseCsv($("#bulk-csv").value);
      const unit = unitPrice(form);
      if (!clients.length) return "Paste or upload at least one client.";
      if (!unit) return MISSING_PRICE;
      const total = unit.price * clients.length;
      return {
        body: { clients, ...unit.body },
        summary:
          `${clients.length} clients, ${credits(unit.price)} credits each: ${credits(total)} credits in all. ` +
          `Balance after: ${credits(state.me.balance - total)}.`,
      };
    },
    done: (receipt) => `${receipt.clients.length} clients onboarded for ${credits(receipt.total)} credits.`,
    refresh: () => Promise.all([loadWallet(), loadLedger(), loadClients(), loadLots()]),
  });
  $("#bulk-file").addEventListener("change", async () => {
    const file = $("#bulk-file").files[0];
    if (file) $("#bulk-csv").value = await file.text();
    reset();
  });
}

/**
 * The invite link to hand out: the API seals it, so no one can name another partner. While
 * commissions are paid invites are off (403), and the page says who adds sub-resellers.
 */
async function loadInvite() {
  try {
    $("#invite-link").textContent = (await call("GET", "/resellers/me/invite")).link;
  } catch (problem) {
    if (problem.status !== 403) throw problem;
    $("#invite-link").textContent = problem.message;
  }
}

/**
 * A signed-in user without an account sees only the sign-up card; with an invite in the
 * link (`invited_by`), the account joins under the partner who sent it. Once created, the
 * page reloads as the dashboard.
 */
function showSignUp(claims) {
  for (const section of document.querySelectorAll("main > section:not(#signup), main > nav, main > .group")) section.hidden = true;
  $("#signup").hidden = false;
  const invite = new URLSearchParams(location.search).get("invited_by") || sessionStorage.getItem(INVITE);
  // Only a refid is shown from the link (ten letters and digits): no one can put words of
  // their own on this page through it.
  const inviter = (invite || "").split(".")[0];
  if (invite && /^[0-9A-Z]{10}$/.test(inviter)) {
    $("#signup-inviter").textContent = inviter;
    $("#signup-invite").hidden = false;
  }
  const form = $("#signup-form");
  if (claims.email) form.email.value = claims.email;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { company: form.company.value.trim() };
    if (form.email.value.trim()) body.email = form.email.value.trim();
    if (invite) body.invited_by = invite;
    form.querySelector("button").disabled = true;
    try {
      await call("POST", "/resellers", { body });
      sessionStorage.removeItem(INVITE);
      history.replaceState(null, "", location.pathname);
      location.reload();
    } catch (problem) {
      form.querySelector("button").disabled = false;
      // The server's own words: they say what to change (an invite, the address).
      notify("#signup-message", problem.message || explain(problem), "error");
      // An invite that cannot be used never stands in the way of an account of one's own.
      $("#signup-alone").hidden = !invite;
    }
  });
  $("#signup-alone").addEventListener("click", () => {
    sessionStorage.removeItem(INVITE);
    location.assign(location.pathname);
  });
  document.body.dataset.ready = "true";
}

async function main() {
  const claims = await signedIn();
  if (!claims) return;
  try {
    await loadWallet();
  } catch (problem) {
    if (problem.status === 404) return showSignUp(claims);
    notify("#profile-message", explain(problem), "error");
    return;
  }
  wireProvision();
  wireOnboard();
  wireBulk();
  wireHolds();
  wireTransfer();
  wireAlerts();
  wireAutoTopUp();
  $("#client-search").addEventListener("input", renderClients);
  $("#clients-more").addEventListener("click", () => loadClients(true));
  $("#trend-interval").addEventListener("change", loadTrend);
  await Promise.all([loadProducts(), loadClients(), loadLedger(), loadTrend()]);
  await Promise.all([loadHolds(), loadLots(), loadSubResellers(), loadInvite(), loadAlerts(), loadAutoTopUp(state.me)]);
  document.body.dataset.ready = "true";
}

main().catch((problem) => notify("#profile-message", explain(problem), "error"));
