// One experiment: GET /experiments/{id} polled until it finishes; its plots through the API's MLflow proxy.
"use strict";

(() => {
  const { el, api } = FB;
  const id = document.getElementById("experiment").dataset.experimentId;
  const path = `/experiments/${encodeURIComponent(id)}`;
  const POLL_MS = 1500;
  let plotsShown = false;
  let polling = false;

  const kvRows = (pairs) => pairs.map(([k, v]) => el("tr", { "data-key": k }, el("th", { scope: "row" }, k), el("td", {}, v)));

  function specValue(value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "object") {
      return Object.entries(value).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ") || "{}";
    }
    return String(value);
  }

  function render(exp) {
    document.getElementById("title").replaceChildren(`${exp.model} on ${exp.dataset}`,
      el("span", { class: "muted" }, ` · seed ${exp.seed} · `), el("span", { class: "mono muted" }, FB.shortId(exp.id)));
    document.title = `${exp.model} on ${exp.dataset} · FER Bench`;
    FB.fill(document.getElementById("status"), FB.badge(exp.status),
      exp.cancel_requested && !FB.FINISHED.has(exp.status) ? el("span", { class: "muted" }, " cancelling…") : null);
    FB.fill(document.getElementById("links"), 
      exp.mlflow_url ? el("a", { href: exp.mlflow_url, target: "_blank", rel: "noopener", id: "mlflow-link" }, "MLflow run") : null,
      exp.mlflow_url ? " · " : null,
      el("a", { href: `/ui/compare?ids=${encodeURIComponent(exp.id)}` }, "compare with…"));
    const cancel = document.getElementById("cancel");
    cancel.hidden = FB.FINISHED.has(exp.status) || exp.cancel_requested;

    document.getElementById("progress").replaceChildren(FB.progressBar(exp));
    const latest = (exp.progress && exp.progress.metrics) || {};
    document.querySelector("#latest tbody").replaceChildren(...kvRows(Object.entries(latest).map(([k, v]) =>
      [k, FB.isNumber(v) ? (k === "lr" ? v.toExponential(2) : v.toFixed(4)) : "–"])));

    const error = exp.error || (exp.stopped_reason ? `stopped: ${exp.stopped_reason}` : "");
    document.getElementById("error-card").hidden = !error;
    document.getElementById("error").textContent = error;

    document.getElementById("metrics-card").hidden = !exp.metrics;
    if (exp.metrics) {
      document.querySelector("#metrics tbody").replaceChildren(...kvRows(FB.METRICS.filter((m) => m in exp.metrics)
        .map((m) => [FB.metricLabel(m), FB.fmtMetric(m, exp.metrics[m])])));
    }
    const perClass = exp.per_class && Object.keys(exp.per_class).length ? exp.per_class : null;
    document.getElementById("per-class-card").hidden = !perClass;
    if (perClass) {
      document.querySelector("#per-class tbody").replaceChildren(...Object.entries(perClass).map(([name, r]) =>
        el("tr", { "data-class": name }, el("td", {}, name), el("td", { class: "num" }, FB.fmtMetric("", r.precision)),
          el("td", { class: "num" }, FB.fmtMetric("", r.recall)), el("td", { class: "num" }, FB.fmtMetric("", r.f1)),
          el("td", { class: "num" }, r.support ?? "–"))));
    }
    document.querySelector("#spec tbody").replaceChildren(...kvRows(Object.entries(exp.spec).map(([k, v]) => [k, specValue(v)])));
    document.querySelector("#run tbody").replaceChildren(...kvRows([
      ["id", el("span", { class: "mono" }, exp.id)], ["status", exp.status], ["attempts", exp.attempts],
      ["worker", exp.worker || "–"], ["MLflow run", exp.mlflow_run_id || "–"], ["split", exp.split_fingerprint || "–"],
      ["created", FB.fmtTime(exp.created_at)], ["started", FB.fmtTime(exp.started_at)],
      ["finished", FB.fmtTime(exp.finished_at)], ["last heartbeat", FB.fmtTime(exp.heartbeat_at)]]));
  }

  async function tick() {
    polling = await refresh();
    return polling;
  }

  function follow() {
    if (!polling) { polling = true; FB.poll(tick, POLL_MS); }
  }

  async function refresh() {
    const answer = await api(path);
    if (!answer.ok) {
      FB.notice(answer.status === 404 ? `No experiment ${id}.` : `Could not load the experiment: ${FB.detailText(answer.data)}`, "error");
      return answer.status !== 404 && answer.status !== 401 && answer.status !== 403;
    }
    FB.notice("");
    render(answer.data);
    const finished = FB.FINISHED.has(answer.data.status);
    if (finished && answer.data.mlflow_run_id && !plotsShown) plotsShown = await FB.showPlots(`${path}/plots`, "This run logged no plots.");
    return !finished || !plotsShown && Boolean(answer.data.mlflow_run_id);
  }

  FB.wireCancel(path, "Cancellation requested.", render, follow);
  follow();
})();
