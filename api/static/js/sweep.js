// One sweep: GET /sweeps/{id} polled until it ends (trials, best trial), then Optuna's plots of its parent run.
"use strict";

(() => {
  const { el, api } = FB;
  const id = document.getElementById("sweep").dataset.sweepId;
  const path = `/sweeps/${encodeURIComponent(id)}`;
  const POLL_MS = 2000;
  const ENDED = new Set(["succeeded", "failed", "cancelled"]);
  const PLOT_TRIES = 30;  // a minute after the end: a sweep with no complete trial may never get plots
  let plotsShown = false;
  let plotTries = 0;
  let polling = false;

  const kvRows = (pairs) => pairs.map(([k, v]) => el("tr", { "data-key": k }, el("th", { scope: "row" }, k), el("td", {}, v)));
  const fmtValue = (v) => (FB.isNumber(v) ? (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : String(+v.toPrecision(4))) : String(v));
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const values = (params) => Object.entries(params || {}).map(([k, v]) => `${k}=${fmtValue(v)}`).join(", ");

  function rangeText(p) {
    if (p.kind === "choice") return `choice of ${(p.values || []).join(", ")}`;
    return `${p.kind} ${p.low} .. ${p.high}${p.step ? ` step ${p.step}` : ""}`;
  }

  function experimentLinks(trial) {
    return trial.experiments.flatMap((e, i) => [i ? " · " : null,
      el("a", { href: `/ui/experiments/${encodeURIComponent(e.id)}`, class: "experiment-link", title: `${e.status}, seed ${e.seed}` },
        FB.shortId(e.id)),
      e.mlflow_url ? el("span", {}, " (", el("a", { href: e.mlflow_url, target: "_blank", rel: "noopener", class: "run-link" }, "run"), ")") : null]);
  }

  function trialRow(trial, best) {
    const isBest = best && best.number === trial.number;
    return el("tr", { "data-trial": String(trial.number), "data-state": trial.state, class: isBest ? "best-trial" : null },
      el("td", { class: "num" }, trial.number, isBest ? el("span", { class: "best-mark", title: "best trial" }, " ★") : null),
      el("td", {}, FB.badge(trial.state)),
      el("td", { class: `num objective${isBest ? " best" : ""}` }, FB.isNumber(trial.value) ? trial.value.toFixed(4) : "–"),
      el("td", { class: "values" }, values(trial.params)),
      el("td", {}, experimentLinks(trial)));
  }

  function renderBest(sweep) {
    const best = sweep.best;
    document.getElementById("best-note").hidden = Boolean(best);
    if (!best) { document.querySelector("#best tbody").replaceChildren(); return; }
    const tests = best.test_metrics || {};
    document.querySelector("#best tbody").replaceChildren(...kvRows([
      ["trial", `#${best.number}`], [sweep.objective, FB.fmtMetric(sweep.objective, best.value)],
      ["values", values(best.params)],
      ["test accuracy", FB.fmtMetric("accuracy", tests.accuracy)], ["test F1 macro", FB.fmtMetric("f1_macro", tests.f1_macro)],
      ["experiment", el("span", {}, experimentLinks(best))]]));
  }

  function render(sweep) {
    document.getElementById("title").replaceChildren(`${sweep.model} on ${sweep.dataset}`,
      el("span", { class: "muted" }, " · sweep "), el("span", { class: "mono muted" }, FB.shortId(sweep.id)));
    document.title = `Sweep of ${sweep.model} on ${sweep.dataset} · FER Bench`;
    FB.fill(document.getElementById("status"), FB.badge(sweep.status));
    const made = (sweep.trials || []).length;
    document.getElementById("counts").textContent = `${made} of ${sweep.n_trials} trials, ${sweep.parallel} at once`;
    FB.fill(document.getElementById("links"),
      sweep.mlflow_url ? el("a", { href: sweep.mlflow_url, target: "_blank", rel: "noopener", id: "mlflow-link" }, "MLflow parent run") : null);
    document.getElementById("cancel").hidden = sweep.status !== "running";
    document.getElementById("error-card").hidden = !sweep.error;
    document.getElementById("error").textContent = sweep.error || "";
    renderBest(sweep);
    const pruner = sweep.pruner || {};
    document.querySelector("#search tbody").replaceChildren(...kvRows([
      ["objective", `${sweep.objective} (${sweep.direction})`], ["sampler", `${sweep.sampler} (seed ${sweep.sampler_seed})`],
      ["pruner", pruner.kind === "none" ? "none" : `${pruner.kind}${pruner.kind === "median" ? `, after ${plural(pruner.startup_trials, "complete trial")} and ${plural(pruner.warmup_epochs, "warm-up epoch")}` : ""}`],
      ["seeds per trial", sweep.seeds],
      ...Object.entries(sweep.space || {}).map(([name, p]) => [name, rangeText(p)]),
      ["created", FB.fmtTime(sweep.created_at)], ["finished", FB.fmtTime(sweep.finished_at)]]));
    document.getElementById("objective-head").textContent = sweep.objective.replace(/_/g, " ");
    document.querySelector("#trials tbody").replaceChildren(...(made ? sweep.trials.map((t) => trialRow(t, sweep.best))
      : [el("tr", {}, el("td", { colspan: "5", class: "empty" }, "No trial yet."))]));
  }

  async function refresh() {
    const answer = await api(path);
    if (!answer.ok) {
      FB.notice(answer.status === 404 ? `No sweep ${id}.` : `Could not load the sweep: ${FB.detailText(answer.data)}`, "error");
      return answer.status !== 404 && answer.status !== 401 && answer.status !== 403;
    }
    FB.notice("");
    render(answer.data);
    const ended = ENDED.has(answer.data.status);
    // The parent run's plots are logged just after the sweep ends: asked for until they are there.
    if (ended && answer.data.mlflow_run_id && !plotsShown) {
      plotTries += 1;
      const none = plotTries < PLOT_TRIES ? "Optuna's plots are being drawn…" : "The parent run holds no plots.";
      plotsShown = await FB.showPlots(`${path}/plots`, none)
        && (document.querySelectorAll("#plots figure").length > 0 || plotTries >= PLOT_TRIES);
    }
    return !ended || (!plotsShown && Boolean(answer.data.mlflow_run_id));
  }

  async function tick() {
    polling = await refresh();
    return polling;
  }

  function follow() {
    if (!polling) { polling = true; FB.poll(tick, POLL_MS); }
  }

  FB.wireCancel(path, "Cancellation requested: no trial starts any more; running ones stop within a batch.", render, follow);
  follow();
})();
