// The partner's alerts and auto top-up: the forms of `/resellers/me/alerts` and
// `/resellers/me/auto-top-up`, and where the rule stands.
import { call } from "ally/api";
import { $, credits, explain, notify } from "ally/ui";

/** Fills the alerts form with the partner's thresholds and runway days. */
export async function loadAlerts() {
  const alerts = await call("GET", "/resellers/me/alerts");
  const form = $("#alerts");
  form.thresholds.value = alerts.thresholds.join(", ");
  form.runway_days.value = alerts.runway_days ?? "";
}

/** Saves the alerts form. */
export function wireAlerts() {
  $("#alerts").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const levels = form.thresholds.value.split(",").map((t) => t.trim()).filter(Boolean);
    if (levels.some((t) => !/^\d+$/.test(t))) {
      notify("#alerts-message", "Levels are whole numbers of credits, separated by commas.", "error");
      return;
    }
    const body = { thresholds: levels.map(Number) };
    if (form.runway_days.value) body.runway_days = Number(form.runway_days.value);
    try {
      const saved = await call("PUT", "/resellers/me/alerts", { body });
      const runway = saved.runway_days ? ` and when it lasts fewer than ${saved.runway_days} days` : "";
      notify("#alerts-message", `Saved: you are told below ${saved.thresholds.map(credits).join(", ")} credits${runway}.`);
    } catch (problem) {
      notify("#alerts-message", explain(problem), "error");
    }
  });
}

function showAutoTopUp(rule) {
  const form = $("#auto-top-up");
  $("#auto-top-up-remove").hidden = !rule;
  if (!rule) {
    $("#auto-top-up-state").textContent = "No auto top-up: set one below.";
    return;
  }
  form.below.value = rule.below;
  form.target.value = rule.target;
  form.monthly_cap.value = rule.monthly_cap;
  const parts = [
    rule.enabled ? "On." : `Off: ${rule.failures_in_a_row} requests in a row were not paid. Save to turn it back on.`,
    rule.pending_request_id ? `Waiting for the payment of request ${rule.pending_request_id}.` : "Nothing waiting.",
    `Asked this month: ${credits(rule.requested_this_month)} of ${credits(rule.monthly_cap)} credits.`,
  ];
  $("#auto-top-up-state").textContent = parts.join(" ");
}

/**
 * Shows the partner's auto top-up rule and where it stands (none: an empty form). The
 * profile says whether there is one: no rule is a normal state, not a call answered 404.
 */
export async function loadAutoTopUp(profile) {
  showAutoTopUp(profile.auto_top_up ? await call("GET", "/resellers/me/auto-top-up") : null);
}

/** Saves or removes the auto top-up rule. */
export function wireAutoTopUp() {
  $("#auto-top-up").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { below: Number(form.below.value), target: Number(form.target.value), monthly_cap: Number(form.monthly_cap.value) };
    try {
      showAutoTopUp(await call("PUT", "/resellers/me/auto-top-up", { body }));
      notify("#auto-top-up-message", `Saved: below ${credits(body.below)} credits, Ally asks for what brings you back to ${credits(body.target)}.`);
    } catch (problem) {
      notify("#auto-top-up-message", explain(problem), "error");
    }
  });
  $("#auto-top-up-remove").addEventListener("click", async () => {
    try {
      await call("DELETE", "/resellers/me/auto-top-up");
      $("#auto-top-up").reset();
      showAutoTopUp(null);
      notify("#auto-top-up-message", "Auto top-up removed.");
    } catch (problem) {
      notify("#auto-top-up-message", explain(problem), "error");
    }
  });
}
