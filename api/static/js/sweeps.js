// The sweeps page: GET /sweeps (newest first, each with its trial counts and best trial), polled while any runs.
"use strict";

(() => {
  const { el, api } = FB;
  const form = document.getElementById("filters");
  const LIMIT = 50;
  const POLL_MS = 2000;
  let offset = Number(FB.query().get("offset") || 0);
  let loads = 0;  // a filter change and a poll can cross: only the latest request's answer is shown

  const STATE_ORDER = ["complete", "running", "pruned", "failed", "cancelled"];

  function trialCounts(sweep) {
    const states = sweep.trial_states || {};
    const made = Object.values(states).reduce((a, b) => a + b, 0);
    const parts = STATE_ORDER.filter((s) => states[s]).map((s) => `${states[s]} ${s}`);
    return el("div", {}, `${made} of ${sweep.n_trials}`, el("div", { class: "muted caption-line" }, parts.join(", ") || "none yet"));
  }

  function searchText(sweep) {
    const pruner = sweep.pruner && sweep.pruner.kind ? sweep.pruner.kind : "none";
    return `${sweep.sampler}, ${Object.keys(sweep.space || {}).join(", ")}; pruner ${pruner}`;
  }

  function row(sweep) {
    const best = sweep.best;
    return el("tr", { "data-sweep-id": sweep.id, "data-status": sweep.status },
      el("td", {}, el("a", { href: `/ui/sweeps/${encodeURIComponent(sweep.id)}`, class: "sweep-link" }, sweep.model),
        el("div", { class: "muted mono" }, FB.shortId(sweep.id))),
      el("td", {}, FB.badge(sweep.status)),
      el("td", { class: "trials" }, trialCounts(sweep)),
      el("td", { class: "num best", title: `best ${sweep.objective} (trial #${best ? best.number : "–"})` },
        best && FB.isNumber(best.value) ? best.value.toFixed(4) : "–"),
      el("td", { class: "hide-narrow" }, sweep.dataset),
      el("td", { class: "hide-narrow" }, searchText(sweep)),
      el("td", { class: "hide-narrow" }, FB.fmtTime(sweep.created_at)));
  }

  async function tick() {
    const params = new URLSearchParams({ limit: String(LIMIT), offset: String(offset) });
    const status = form.elements.status.value;
    if (status) params.set("status", status);
    FB.setQuery({ status, offset: offset || "" });
    const mine = ++loads;
    const answer = await api(`/sweeps?${params}`);
    if (mine !== loads) return true;
    if (!answer.ok) {
      FB.notice(`Could not load the sweeps: ${FB.detailText(answer.data)}`, "error");
      return answer.status !== 401 && answer.status !== 403;  // keep trying through outages, not through refusals
    }
    FB.notice("");
    const { items, total } = answer.data;
    document.querySelector("#sweeps tbody").replaceChildren(...(items.length ? items.map(row)
      : [el("tr", {}, el("td", { colspan: "7", class: "empty" }, "No sweep matches."))]));
    const active = items.filter((s) => s.status === "running" || s.status === "cancelling").length;
    document.getElementById("summary").textContent = total
      ? `${offset + 1}–${offset + items.length} of ${total} sweep(s)${active ? `, ${active} in progress` : ""}; updated ${new Date().toLocaleTimeString()}.`
      : "No sweeps yet.";
    document.getElementById("newer").disabled = offset === 0;
    document.getElementById("older").disabled = offset + items.length >= total;
    return true;
  }

  form.elements.status.value = FB.query().get("status") || "";
  document.getElementById("newer").addEventListener("click", () => { offset = Math.max(0, offset - LIMIT); tick(); });
  document.getElementById("older").addEventListener("click", () => { offset += LIMIT; tick(); });
  form.addEventListener("change", () => { offset = 0; tick(); });
  form.addEventListener("submit", (event) => event.preventDefault());
  FB.poll(tick, POLL_MS);
})();
