// Shared by every page: calls to the JSON API (with the tab's API key), small DOM and number helpers.
// The key lives in sessionStorage only: never in a URL, a cookie or the console.
"use strict";

const FB = (() => {
  const KEY_NAME = "ferbench-api-key";
  const body = document.body;
  const METRICS = (body.dataset.metrics || "").split(",").filter(Boolean);
  const LOWER_IS_BETTER = new Set((body.dataset.lowerIsBetter || "").split(",").filter(Boolean));
  const FINISHED = new Set(["succeeded", "failed", "cancelled", "pruned"]);

  const getKey = () => sessionStorage.getItem(KEY_NAME) || "";

  function showKeyState() {
    document.getElementById("key-button").classList.toggle("has-key", Boolean(getKey()));
  }

  // Resolves true when the person entered a key, false when they cancelled. Requests refused at the
  // same time (a page loads several) share one prompt.
  let asking = null;
  function askForKey(reason) {
    if (!asking) asking = showKeyDialog(reason).finally(() => { asking = null; });
    return asking;
  }

  function showKeyDialog(reason) {
    const dialog = document.getElementById("key-dialog");
    const input = document.getElementById("key-input");
    document.getElementById("key-reason").textContent = reason || "";
    input.value = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        if (dialog.returnValue === "save" && input.value.trim()) {
          sessionStorage.setItem(KEY_NAME, input.value.trim());
        } else if (dialog.returnValue === "forget") {
          sessionStorage.removeItem(KEY_NAME);
        }
        input.value = "";
        showKeyState();
        resolve(dialog.returnValue === "save" && Boolean(getKey()));
      }, { once: true });
      dialog.showModal();
      input.focus();
    });
  }

  // fetch with JSON in and out; a 401/403 asks for a key once and retries. Never throws for HTTP errors:
  // {ok, status, data} where data is the parsed JSON body (or null).
  async function api(path, { method = "GET", json, asBlob = false, retryWithKey = true } = {}) {
    const headers = { Accept: asBlob ? "*/*" : "application/json" };
    const key = getKey();
    if (key) headers["X-API-Key"] = key;
    if (json !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json),
                                     cache: "no-store", credentials: "omit" });
    } catch (err) {
      return { ok: false, status: 0, data: { detail: "the API server did not answer; is it running?" } };
    }
    if ((response.status === 401 || response.status === 403) && retryWithKey) {
      const reason = response.status === 401 ? "This action needs an API key." : "That key was not accepted.";
      if (await askForKey(reason)) return api(path, { method, json, asBlob, retryWithKey: true });
    }
    let data = null;
    if (asBlob && response.ok) {
      data = await response.blob();
    } else {
      try { data = await response.json(); } catch (err) { data = null; }
    }
    return { ok: response.ok, status: response.status, data };
  }

  function detailText(data) {
    const detail = data && data.detail;
    if (!detail) return "unexpected answer from the server";
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
    if (detail.message) return detail.message;
    return JSON.stringify(detail);
  }

  function notice(text, kind = "") {
    const box = document.getElementById("notice");
    if (!text) { box.hidden = true; return; }
    box.className = `notice ${kind}`;
    box.textContent = text;
    box.hidden = false;
  }

  // el("a", {href: "/x", class: "y"}, "text", child...): text is always set as text, never as HTML.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name === "style") node.style.cssText = value;  // CSSOM: allowed by the pages' CSP, unlike style=
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // replaceChildren that skips null/false (the DOM method would print them as text).
  function fill(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
    return node;
  }

  const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

  function fmtMetric(name, value) {
    if (!isNumber(value)) return "–";
    switch (name) {
      case "params": return Math.round(value).toLocaleString("en-US");
      case "model_bytes": return `${(value / 1e6).toFixed(2)} MB`;
      case "throughput": return `${Math.round(value).toLocaleString("en-US")}/s`;
      case "inference_ms": return `${value.toFixed(2)} ms`;
      case "train_seconds": case "epoch_seconds": return fmtDuration(value);
      default: return value.toFixed(4);
    }
  }

  function fmtStd(name, value) {
    if (!isNumber(value)) return "";
    return ["params", "model_bytes", "throughput", "inference_ms", "train_seconds", "epoch_seconds"].includes(name)
      ? fmtMetric(name, value) : value.toFixed(4);
  }

  function fmtDuration(seconds) {
    if (!isNumber(seconds)) return "–";
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
    const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
    if (m < 60) return `${m} min ${s} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function fmtTime(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
  }

  const shortId = (id) => (id || "").slice(0, 8);
  // Short column labels so that the leaderboard's columns fit 1280 px; titles carry the full names.
  const SHORT = { balanced_accuracy: "bal. accuracy", precision_macro: "precision", recall_macro: "recall",
                  f1_macro: "F1 macro", f1_weighted: "F1 weighted", roc_auc_macro: "ROC AUC", top2_accuracy: "top-2 acc.",
                  train_seconds: "train time", epoch_seconds: "epoch time", inference_ms: "latency", model_bytes: "size" };
  const metricLabel = (name) => SHORT[name] || name.replace(/_/g, " ");

  function badge(status) {
    return el("span", { class: `badge ${status}`, "data-status": status }, status);
  }

  // Epoch k of n as a bar, with batch and ETA underneath; finished rows show a full bar.
  function progressBar(exp) {
    const p = exp.progress || {};
    const epochs = p.epochs || (exp.spec && exp.spec.epochs) || null;
    let fraction = 0;
    let caption = "";
    if (exp.status === "succeeded") {
      fraction = 1;
      caption = epochs ? `${p.epoch || epochs} of ${epochs} epochs` : "done";
    } else if (p.epoch && epochs) {
      const within = p.batch && p.batches ? p.batch / p.batches : 0;
      fraction = Math.min(1, ((p.epoch - 1) + within) / epochs);
      caption = `epoch ${p.epoch} of ${epochs}`;
      if (p.batch && p.batches) caption += ` · batch ${p.batch}/${p.batches}`;
      if (isNumber(p.eta_seconds) && !FINISHED.has(exp.status)) caption += ` · ETA ${fmtDuration(p.eta_seconds)}`;
    } else if (exp.status === "queued" || exp.status === "pending") {
      caption = "waiting for a worker";
    } else if (exp.status === "running") {
      caption = "starting";
    } else {
      caption = exp.status;
    }
    const kind = exp.status === "succeeded" ? "done" : (exp.status === "failed" ? "failed" : "");
    return el("div", { class: "progress", "data-fraction": fraction.toFixed(4) },
      el("div", { class: `bar ${kind}`, role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
                  "aria-valuenow": String(Math.round(fraction * 100)) },
        el("span", { style: `width: ${(fraction * 100).toFixed(1)}%` })),
      el("div", { class: "caption" }, caption));
  }

  // Re-runs `tick` every `ms` while it resolves true; waits while the tab is hidden, resumes when it shows.
  function poll(tick, ms) {
    let timer = null, busy = false, stopped = false;
    const run = async () => {
      timer = null;
      if (document.hidden || busy || stopped) return;
      busy = true;
      const again = await tick();
      busy = false;
      if (again) timer = setTimeout(run, ms); else stopped = true;
    };
    document.addEventListener("visibilitychange", () => { if (!document.hidden && timer === null) run(); });
    run();
  }

  // A run's figures from `listPath` (GET .../plots) into the page's #plots-card, #plots-note and #plots. They are
  // fetched as blobs (not <img src>) so that the key header goes along when reads need one. Resolves true when
  // there is nothing more to ask for (shown, none logged, or refused), false after an outage.
  async function showPlots(listPath, noneText) {
    const card = document.getElementById("plots-card");
    const note = document.getElementById("plots-note");
    const answer = await api(listPath);
    card.hidden = false;
    if (!answer.ok) {
      note.textContent = `Plots unavailable: ${detailText(answer.data)}`;
      return answer.status < 500;
    }
    if (!answer.data.plots.length) {
      note.textContent = noneText;
      return true;
    }
    note.textContent = "";
    const figures = await Promise.all(answer.data.plots.map(async (plot) => {
      const image = await api(plot.url, { asBlob: true });
      const label = plot.name.replace(/\.png$/, "").replace(/_/g, " ");
      return el("figure", { "data-plot": plot.name },
        image.ok ? el("img", { src: URL.createObjectURL(image.data), alt: label }) : el("p", { class: "error-text" }, "not available"),
        el("figcaption", {}, label));
    }));
    document.getElementById("plots").replaceChildren(...figures);
    return true;
  }

  // A detail page's Cancel button: POST `${path}/cancel`, then show the answer and keep following it.
  function wireCancel(path, doneText, render, follow) {
    document.getElementById("cancel").addEventListener("click", async () => {
      const answer = await api(`${path}/cancel`, { method: "POST" });
      if (answer.ok) {
        notice(doneText, "success");
        render(answer.data);
        follow();
      } else {
        notice(`Could not cancel: ${detailText(answer.data)}`, "error");
      }
    });
  }

  function query() { return new URLSearchParams(window.location.search); }

  // The page's filters live in its address, so a view can be shared (never the key).
  function setQuery(params) {
    const clean = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined && v !== false) clean.set(k, v);
    const search = clean.toString();
    history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
  }

  function fillSelect(select, values, { empty = "any", selected = "" } = {}) {
    select.replaceChildren(el("option", { value: "" }, empty),
      ...values.map((v) => {
        const [value, label] = Array.isArray(v) ? v : [v, v];
        return el("option", { value, selected: value === selected }, label);
      }));
  }

  document.getElementById("key-button").addEventListener("click", () => askForKey(""));
  showKeyState();

  return { METRICS, LOWER_IS_BETTER, FINISHED, api, detailText, notice, el, fill, fmtMetric, fmtStd, fmtDuration, fmtTime,
           shortId, metricLabel, badge, progressBar, poll, query, setQuery, fillSelect, isNumber, askForKey, showPlots, wireCancel };
})();
