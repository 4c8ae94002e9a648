// The leaderboard page: GET /leaderboard with the chosen filters, ranked by the chosen metric.
"use strict";

(() => {
  const { el, api } = FB;
  const form = document.getElementById("filters");
  const FILTERS = ["metric", "protocol", "recipe", "dataset", "split_fingerprint", "model", "family", "limit"];
  // Columns shown besides the ranking metric: the ones people compare first; the rest are a click away in "Rank by".
  const COLUMNS = ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc_macro", "inference_ms", "params", "train_seconds"];
  const selected = new Set();
  const splits = new Set();
  let loads = 0;  // filters change faster than answers come: only the latest request's answer is shown

  function current() {
    const values = {};
    for (const name of FILTERS) values[name] = form.elements[name].value;
    values.best_per_model = form.elements.best_per_model.checked;
    return values;
  }

  function restore() {
    const q = FB.query();
    for (const name of FILTERS) if (q.get(name)) form.elements[name].value = q.get(name);
    form.elements.best_per_model.checked = q.get("best_per_model") === "true";
  }

  async function loadChoices() {
    const q = FB.query();
    const [models, datasets] = await Promise.all([api("/models"), api("/datasets")]);
    if (models.ok) {
      FB.fillSelect(form.elements.model, models.data.map((m) => m.name), { selected: q.get("model") || "" });
      const families = [...new Set(models.data.map((m) => m.family))].sort();
      FB.fillSelect(form.elements.family, families, { selected: q.get("family") || "" });
    }
    if (datasets.ok) {
      FB.fillSelect(form.elements.dataset, datasets.data.map((d) => d.name), { selected: q.get("dataset") || "" });
    }
  }

  function sortHeader(metric, ranking) {
    const order = FB.LOWER_IS_BETTER.has(metric) ? "▲" : "▼";
    const link = el("a", { href: "#", "data-metric": metric, title: `rank by ${metric}` },
      FB.metricLabel(metric), metric === ranking ? el("span", { "aria-hidden": "true" }, order) : null);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      form.elements.metric.value = metric;
      load();
    });
    return el("th", { class: `num sortable${metric === ranking ? " sorted" : ""}`, scope: "col",
                      "aria-sort": metric === ranking ? (order === "▲" ? "ascending" : "descending") : null }, link);
  }

  function row(entry, columns, ranking) {
    const check = el("input", { type: "checkbox", "aria-label": `compare ${entry.model}`, value: entry.experiment_id,
                                checked: selected.has(entry.experiment_id) });
    check.addEventListener("change", () => {
      if (check.checked) selected.add(entry.experiment_id); else selected.delete(entry.experiment_id);
      document.getElementById("compare-selected").disabled = selected.size < 2;
    });
    const cells = columns.map((m) => {
      if (m !== ranking) return el("td", { class: "num" }, FB.fmtMetric(m, entry.metrics[m]));
      // The interval over seeds when there are several, else the best seed's over the test images.
      const ci = entry.mean_ci || entry.ci;
      return el("td", { class: "num sorted", "data-metric": m }, FB.fmtMetric(m, entry.mean),
        entry.std === null ? null : el("span", { class: "pm" }, ` ± ${FB.fmtStd(m, entry.std)}`),
        ci ? el("div", { class: "muted ci" }, `95% CI ${FB.fmtMetric(m, ci[0])}–${FB.fmtMetric(m, ci[1])}`) : null,
        entry.differs_from_top === false
          ? el("div", { class: "muted tie", title: "not significantly different from #1 at 5% (McNemar's exact test)" },
               "≈ #1") : null);
    });
    const mlflow = entry.mlflow_url
      ? el("a", { href: entry.mlflow_url, target: "_blank", rel: "noopener", class: "mlflow-link" }, "MLflow")
      : el("span", { class: "muted" }, "–");
    return el("tr", { "data-experiment-id": entry.experiment_id, "data-model": entry.model },
      el("td", { class: "hide-narrow" }, check),
      el("td", { class: "num" }, entry.rank),
      el("td", {}, el("a", { href: `/ui/experiments/${encodeURIComponent(entry.experiment_id)}`, class: "experiment-link" },
        entry.model), el("div", { class: "muted" }, entry.family || "")),
      el("td", { class: "hide-narrow" }, entry.dataset),
      el("td", { class: "hide-narrow" }, entry.recipe || "–"),
      el("td", { class: "mono hide-narrow", title: entry.split_fingerprint }, entry.split_fingerprint.slice(0, 10)),
      el("td", { class: "num", title: `seeds ${entry.seeds.join(", ")}` }, entry.n_seeds),
      ...cells,
      el("td", {}, mlflow));
  }

  async function load() {
    const values = current();
    FB.setQuery(values);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(values)) if (v !== "" && v !== false) params.set(k, v);
    const mine = ++loads;
    const answer = await api(`/leaderboard?${params}`);
    if (mine !== loads) return;
    const table = document.getElementById("board");
    if (!answer.ok) {
      FB.notice(`Could not load the leaderboard: ${FB.detailText(answer.data)}`, "error");
      return;
    }
    FB.notice("");
    const ranking = answer.data.metric;
    const columns = COLUMNS.includes(ranking) ? COLUMNS : [ranking, ...COLUMNS];
    table.tHead.replaceChildren(el("tr", {},
      el("th", { scope: "col", class: "hide-narrow" }, ""), el("th", { class: "num", scope: "col" }, "#"),
      el("th", { scope: "col" }, "model"), el("th", { scope: "col", class: "hide-narrow" }, "dataset"),
      el("th", { scope: "col", class: "hide-narrow" }, "recipe"), el("th", { scope: "col", class: "hide-narrow" }, "split"),
      el("th", { class: "num", scope: "col" }, "seeds"), ...columns.map((m) => sortHeader(m, ranking)),
      el("th", { scope: "col" }, "run")));
    const entries = answer.data.entries;
    entries.forEach((e) => splits.add(e.split_fingerprint));
    FB.fillSelect(form.elements.split_fingerprint, [...splits].sort().map((s) => [s, s.slice(0, 12)]),
                  { selected: values.split_fingerprint });
    table.tBodies[0].replaceChildren(...(entries.length
      ? entries.map((e) => row(e, columns, ranking))
      : [el("tr", {}, el("td", { colspan: String(columns.length + 8), class: "empty" },
          "No finished experiment matches. ", el("a", { href: "/ui/submit" }, "Submit one"), "."))]));
    document.getElementById("summary").textContent =
      `${entries.length} spec(s) ranked by ${FB.metricLabel(ranking)} (${answer.data.order === "asc" ? "lower" : "higher"} is better), ` +
      `${answer.data.protocol} protocol (${answer.data.protocol === "official" ? "the dataset's own test images" : "a test set carved 80/10/10"}).`;
  }

  document.getElementById("compare-selected").addEventListener("click", () => {
    window.location.href = `/ui/compare?ids=${[...selected].map(encodeURIComponent).join(",")}`;
  });
  form.addEventListener("change", load);
  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  restore();
  const split = FB.query().get("split_fingerprint");
  if (split) splits.add(split);
  loadChoices().then(load);
})();
