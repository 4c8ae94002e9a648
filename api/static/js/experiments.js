// The experiments page: GET /experiments with filters, polled so status and progress stay live.
"use strict";

(() => {
  const { el, api } = FB;
  const form = document.getElementById("filters");
  const FILTERS = ["status", "model", "dataset"];
  const LIMIT = 50;
  const POLL_MS = 2000;
  let offset = Number(FB.query().get("offset") || 0);
  let loads = 0;  // a filter change and a poll can cross: only the latest request's answer is shown

  async function loadChoices() {
    const q = FB.query();
    const [models, datasets] = await Promise.all([api("/models"), api("/datasets")]);
    if (models.ok) FB.fillSelect(form.elements.model, models.data.map((m) => m.name), { selected: q.get("model") || "" });
    if (datasets.ok) FB.fillSelect(form.elements.dataset, datasets.data.map((d) => d.name), { selected: q.get("dataset") || "" });
    form.elements.status.value = q.get("status") || "";
  }

  function row(exp) {
    const accuracy = exp.metrics ? exp.metrics.accuracy : (exp.progress && exp.progress.metrics || {}).val_accuracy;
    return el("tr", { "data-experiment-id": exp.id, "data-status": exp.status },
      el("td", {}, el("a", { href: `/ui/experiments/${encodeURIComponent(exp.id)}`, class: "experiment-link" }, exp.model),
        el("div", { class: "muted mono" }, FB.shortId(exp.id))),
      el("td", {}, FB.badge(exp.status)),
      el("td", {}, FB.progressBar(exp)),
      el("td", { class: "num", title: exp.metrics ? "test accuracy" : "latest validation accuracy" },
        FB.isNumber(accuracy) ? accuracy.toFixed(4) : "–"),
      el("td", { class: "hide-narrow" }, exp.dataset),
      el("td", { class: "num hide-narrow" }, exp.seed),
      el("td", { class: "hide-narrow" }, FB.fmtTime(exp.created_at)));
  }

  async function tick() {
    const params = new URLSearchParams({ limit: String(LIMIT), offset: String(offset) });
    const values = {};
    for (const name of FILTERS) {
      values[name] = form.elements[name].value;
      if (values[name]) params.set(name, values[name]);
    }
    FB.setQuery({ ...values, offset: offset || "" });
    const mine = ++loads;
    const answer = await api(`/experiments?${params}`);
    if (mine !== loads) return true;
    if (!answer.ok) {
      FB.notice(`Could not load the experiments: ${FB.detailText(answer.data)}`, "error");
      return answer.status !== 401 && answer.status !== 403;  // keep trying through outages, not through refusals
    }
    FB.notice("");
    const { items, total } = answer.data;
    document.querySelector("#experiments tbody").replaceChildren(...(items.length ? items.map(row)
      : [el("tr", {}, el("td", { colspan: "7", class: "empty" }, "No experiment matches."))]));
    const active = items.filter((e) => !FB.FINISHED.has(e.status)).length;
    document.getElementById("summary").textContent = total
      ? `${offset + 1}–${offset + items.length} of ${total} experiment(s)${active ? `, ${active} in progress` : ""}; updated ${new Date().toLocaleTimeString()}.`
      : "No experiments yet.";
    document.getElementById("newer").disabled = offset === 0;
    document.getElementById("older").disabled = offset + items.length >= total;
    return true;
  }

  document.getElementById("newer").addEventListener("click", () => { offset = Math.max(0, offset - LIMIT); tick(); });
  document.getElementById("older").addEventListener("click", () => { offset += LIMIT; tick(); });
  form.addEventListener("change", () => { offset = 0; tick(); });
  form.addEventListener("submit", (event) => event.preventDefault());
  loadChoices().then(() => FB.poll(tick, POLL_MS));
})();
