// The submission form, built from the server's own schemas: the spec's fields and defaults from
// /openapi.json (with this server's caps), the model list and each model's hyperparameters from
// GET /models. The server validates; its 422 messages are shown next to the fields they name.
"use strict";

(() => {
  const { el, api } = FB;
  const form = document.getElementById("submit-form");
  const MAIN = ["epochs", "repeats", "seed", "batch_size", "learning_rate", "optimizer"];
  const MORE = ["lr_schedule", "momentum", "weight_decay", "warmup_epochs", "label_smoothing", "class_weighting",
                "augmentation", "tta", "time_budget_minutes", "split_seed"];
  let models = [];

  // A JSON-schema property as a form control; `prefill` puts the default in the box rather than as a placeholder.
  function control(name, prop, { prefill, label }) {
    const simple = prop.anyOf ? prop.anyOf.find((p) => p.type && p.type !== "null") || {} : prop;
    const def = prop.default;
    const id = `f-${name.replace(/\./g, "-")}`;
    let input;
    if (simple.enum) {
      input = el("select", { id, name },
        prefill ? null : el("option", { value: "" }, def === undefined ? "" : `default (${def})`),
        ...simple.enum.map((v) => el("option", { value: v, selected: prefill && v === def }, v)));
    } else if (simple.type === "boolean") {
      input = el("select", { id, name, "data-type": "boolean" }, el("option", { value: "" }, `default (${def})`),
        el("option", { value: "true" }, "true"), el("option", { value: "false" }, "false"));
    } else if (simple.type === "integer" || simple.type === "number") {
      input = el("input", { id, name, type: "number", step: simple.type === "integer" ? "1" : "any", inputmode: "decimal",
                            "data-type": simple.type, value: prefill && def !== null && def !== undefined ? String(def) : null,
                            placeholder: !prefill && def !== null && def !== undefined ? String(def) : null });
    } else {
      input = el("input", { id, name, type: "text", "data-type": "string", value: prefill && def ? def : null,
                            placeholder: !prefill && def ? def : null });
    }
    const range = [simple.minimum, simple.maximum].every((v) => v !== undefined) ? `${simple.minimum} to ${simple.maximum}` : "";
    const hint = [prop.description, range].filter(Boolean).join(" · ");
    return el("div", { class: "field", "data-field": name },
      el("label", { for: id }, label || name.replace(/_/g, " ")), input,
      hint ? el("div", { class: "hint" }, hint) : null);
  }

  function value(input) {
    if (input.value === "") return undefined;
    const type = input.dataset.type;
    if (type === "boolean") return input.value === "true";
    if (type === "integer" || type === "number") return Number(input.value);
    return input.value;
  }

  function showHyperparameters() {
    const info = models.find((m) => m.name === form.elements.model.value);
    if (!info) return;
    document.getElementById("model-description").textContent = info.description;
    document.getElementById("hp-model").textContent = info.name;
    const props = (info.hyperparameters && info.hyperparameters.properties) || {};
    document.getElementById("hp-fields").replaceChildren(...Object.entries(props).map(([name, prop]) =>
      control(`hyperparameters.${name}`, prop, { prefill: false, label: name.replace(/_/g, " ") })));
    document.getElementById("hp-fieldset").hidden = Object.keys(props).length === 0;
  }

  function clearErrors() {
    form.querySelectorAll(".field-error").forEach((n) => n.remove());
    form.querySelectorAll(".field.invalid").forEach((n) => n.classList.remove("invalid"));
    document.getElementById("form-errors").textContent = "";
  }

  function fieldError(name, message) {
    const field = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
    if (!field) return false;
    field.classList.add("invalid");
    field.append(el("div", { class: "field-error", "data-error-for": name }, message));
    const details = field.closest("details");
    if (details) details.open = true;
    return true;
  }

  // 422 items name their field by loc: ["body", "epochs"] or ["body", "hyperparameters", "dropout"].
  function showProblems(detail) {
    const general = [];
    for (const item of Array.isArray(detail) ? detail : []) {
      const loc = (item.loc || []).slice(1);
      const name = loc[0] === "hyperparameters" && loc.length > 1 ? `hyperparameters.${loc[1]}` : String(loc[0] || "");
      if (!fieldError(name, item.msg)) general.push(`${loc.join(".") || "request"}: ${item.msg}`);
    }
    if (!Array.isArray(detail)) general.push(FB.detailText({ detail }));
    document.getElementById("form-errors").textContent = general.join("; ");
    const first = form.querySelector(".field.invalid input, .field.invalid select");
    if (first) first.focus();
  }

  function body() {
    const spec = { hyperparameters: {} };
    let unreadable = false;
    for (const input of form.querySelectorAll("input, select")) {
      if (!input.name) continue;
      if (input.validity && input.validity.badInput) {
        fieldError(input.name, "not a number");
        unreadable = true;
        continue;
      }
      const v = value(input);
      if (v === undefined) continue;
      if (input.name.startsWith("hyperparameters.")) spec.hyperparameters[input.name.slice(16)] = v;
      else spec[input.name] = v;
    }
    return unreadable ? null : spec;
  }

  function showQueued(experiments) {
    document.getElementById("queued").hidden = false;
    const items = experiments.map((e) => el("li", { "data-experiment-id": e.id },
      el("a", { href: `/ui/experiments/${encodeURIComponent(e.id)}`, class: "experiment-link" },
        `${e.model} on ${e.dataset}, seed ${e.seed}`), " ", FB.badge(e.status), " ", el("span", { class: "mono muted" }, FB.shortId(e.id))));
    document.getElementById("queued-list").prepend(...items);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    FB.notice("");
    const spec = body();
    if (!spec) return;
    const button = document.getElementById("submit-button");
    button.disabled = true;
    const answer = await api("/experiments", { method: "POST", json: spec });
    button.disabled = false;
    if (answer.ok) {
      const experiments = Array.isArray(answer.data) ? answer.data : [answer.data];
      FB.notice(`Queued ${experiments.length} experiment(s).`, "success");
      showQueued(experiments);
    } else if (answer.status === 422) {
      FB.notice("The server did not accept the spec: see the marked fields.", "error");
      showProblems(answer.data && answer.data.detail);
    } else {
      FB.notice(`Not queued: ${FB.detailText(answer.data)}`, "error");
    }
  });

  async function build() {
    const [catalogue, datasets, openapi] = await Promise.all([api("/models"), api("/datasets"), api("/openapi.json")]);
    if (!catalogue.ok || !datasets.ok || !openapi.ok) {
      FB.notice(`Could not load the catalogue: ${FB.detailText((catalogue.ok ? (datasets.ok ? openapi : datasets) : catalogue).data)}`, "error");
      return;
    }
    models = catalogue.data;
    const families = [...new Set(models.map((m) => m.family))];
    const requested = FB.query().get("model");
    form.elements.model.replaceChildren(...families.map((family) => el("optgroup", { label: family },
      ...models.filter((m) => m.family === family).map((m) => el("option", { value: m.name, selected: m.name === requested }, m.name)))));
    const spec = openapi.data.paths["/experiments"].post.requestBody.content["application/json"].schema.oneOf[0].properties;
    form.elements.dataset.replaceChildren(...datasets.data.map((d) => el("option",
      { value: d.name, selected: d.name === spec.dataset.default, disabled: d.present === false },
      d.present === false ? `${d.name} (not present)` : d.name)));
    const labels = { repeats: "seeds (repeats)", seed: "first seed" };
    document.getElementById("main-fields").replaceChildren(...MAIN.filter((n) => spec[n]).map((n) =>
      control(n, spec[n], { prefill: true, label: labels[n] })));
    document.getElementById("more-fields").replaceChildren(...MORE.filter((n) => spec[n]).map((n) =>
      control(n, spec[n], { prefill: false })));
    form.elements.model.addEventListener("change", showHyperparameters);
    showHyperparameters();
  }

  build();
})();
