// Compare finished runs: ?ids=a,b,... puts their metrics and per-class F1 side by side; without ids,
// a list of finished experiments to pick from.
"use strict";

(() => {
  const { el, api } = FB;
  const ids = (FB.query().get("ids") || "").split(",").map((s) => s.trim()).filter(Boolean);
  const chosen = new Set(ids);
  let loads = 0;  // only the latest filter's answer is shown

  function header(exps) {
    return el("tr", {}, el("th", { scope: "col" }, ""), ...exps.map((e) => el("th", { scope: "col", class: "num" },
      el("a", { href: `/ui/experiments/${encodeURIComponent(e.id)}` }, e.model),
      el("div", { class: "muted" }, `${e.dataset} · seed ${e.seed}`), el("div", { class: "mono muted" }, FB.shortId(e.id)))));
  }

  // One table row; the best finite value is marked (lowest when `lower` is set).
  function valuesRow(label, values, format, lower, attrs = {}) {
    const finite = values.filter(FB.isNumber);
    const best = new Set(finite).size > 1 ? (lower ? Math.min(...finite) : Math.max(...finite)) : null;  // ties mark nothing
    return el("tr", attrs, el("th", { scope: "row" }, label), ...values.map((v) =>
      el("td", { class: `num${v === best ? " best" : ""}` }, format(v))));
  }

  async function showComparison() {
    document.getElementById("comparison").hidden = false;
    const answers = await Promise.all(ids.map((id) => api(`/experiments/${encodeURIComponent(id)}`)));
    const missing = ids.filter((_, i) => !answers[i].ok);
    const exps = answers.filter((a) => a.ok).map((a) => a.data);
    const unfinished = exps.filter((e) => e.status !== "succeeded");
    const notes = [];
    if (missing.length) notes.push(`not found: ${missing.join(", ")}`);
    if (unfinished.length) notes.push(`${unfinished.map((e) => `${e.model} (${FB.shortId(e.id)}) is ${e.status}`).join(", ")}: no final metrics yet`);
    FB.notice(notes.join("; "), notes.length ? "error" : "");
    if (!exps.length) return;
    const metrics = document.getElementById("metrics-table");
    metrics.tHead.replaceChildren(header(exps));
    metrics.tBodies[0].replaceChildren(...FB.METRICS.map((m) => valuesRow(FB.metricLabel(m),
      exps.map((e) => (e.metrics ? e.metrics[m] : null)), (v) => FB.fmtMetric(m, v), FB.LOWER_IS_BETTER.has(m),
      { "data-metric": m })));
    const classes = [];
    for (const e of exps) for (const name of Object.keys(e.per_class || {})) if (!classes.includes(name)) classes.push(name);
    const perClass = document.getElementById("per-class-table");
    perClass.tHead.replaceChildren(header(exps));
    perClass.tBodies[0].replaceChildren(...(classes.length ? classes.map((name) => valuesRow(name,
      exps.map((e) => ((e.per_class || {})[name] || {}).f1),
      (v) => (FB.isNumber(v) ? el("span", {}, v.toFixed(4), el("span", { class: "f1-bar", style: `width: ${(v * 3).toFixed(2)}rem` })) : "–"),
      false, { "data-class": name }))
      : [el("tr", {}, el("td", { class: "empty", colspan: String(exps.length + 1) }, "No per-class report yet."))]));
  }

  async function loadCandidates() {
    const form = document.getElementById("picker-filters");
    const params = new URLSearchParams({ status: "succeeded", limit: "200" });
    for (const name of ["model", "dataset"]) if (form.elements[name].value) params.set(name, form.elements[name].value);
    const mine = ++loads;
    const answer = await api(`/experiments?${params}`);
    if (mine !== loads) return;
    if (!answer.ok) { FB.notice(`Could not load the experiments: ${FB.detailText(answer.data)}`, "error"); return; }
    const rows = answer.data.items.map((e) => {
      const check = el("input", { type: "checkbox", value: e.id, "aria-label": `compare ${e.model} ${FB.shortId(e.id)}`,
                                  checked: chosen.has(e.id) });
      check.addEventListener("change", () => {
        if (check.checked) chosen.add(e.id); else chosen.delete(e.id);
        document.getElementById("compare-button").disabled = chosen.size < 2;
      });
      const m = e.metrics || {};
      return el("tr", { "data-experiment-id": e.id }, el("td", {}, check),
        el("td", {}, el("a", { href: `/ui/experiments/${encodeURIComponent(e.id)}` }, e.model), " ",
          el("span", { class: "mono muted" }, FB.shortId(e.id))),
        el("td", {}, e.dataset), el("td", { class: "num" }, e.seed),
        el("td", { class: "num" }, FB.fmtMetric("accuracy", m.accuracy)), el("td", { class: "num" }, FB.fmtMetric("f1_macro", m.f1_macro)),
        el("td", { class: "hide-narrow" }, FB.fmtTime(e.finished_at)));
    });
    document.querySelector("#candidates tbody").replaceChildren(...(rows.length ? rows
      : [el("tr", {}, el("td", { colspan: "7", class: "empty" }, "No finished experiment yet."))]));
    document.getElementById("compare-button").disabled = chosen.size < 2;
  }

  async function showPicker() {
    document.getElementById("picker").hidden = false;
    const form = document.getElementById("picker-filters");
    const [models, datasets] = await Promise.all([api("/models"), api("/datasets")]);
    if (models.ok) FB.fillSelect(form.elements.model, models.data.map((m) => m.name));
    if (datasets.ok) FB.fillSelect(form.elements.dataset, datasets.data.map((d) => d.name));
    form.addEventListener("change", loadCandidates);
    await loadCandidates();
  }

  document.getElementById("compare-button").addEventListener("click", () => {
    window.location.href = `/ui/compare?ids=${[...chosen].map(encodeURIComponent).join(",")}`;
  });
  document.getElementById("change-selection").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("comparison").hidden = true;
    showPicker();
  });
  if (ids.length >= 2) showComparison(); else showPicker();  // one id (from an experiment page): pick its partners
})();
