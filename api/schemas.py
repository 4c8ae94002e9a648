"""Response (and documented request) bodies of the API."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from fer_models.tracking.model_registry import DEFAULT_ALIAS, DEFAULT_MODEL_NAME
from fer_models.vocabulary import Metric, Protocol, Status
from ferbench.db.leaderboard import LeaderboardEntry


def _as_utc(value: datetime) -> datetime:
    # Every timestamp is written in UTC, but SQLite hands it back without its zone.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class ModelOut(BaseModel):
    """One catalogue entry (fer_models.models.registry.ModelInfo.to_dict)."""

    name: str
    family: str
    description: str
    defaults: dict[str, Any] = Field(description="Every hyperparameter's default")
    hyperparameters: dict[str, Any] = Field(description="JSON schema of the model's hyperparameters")
    min_input_size: int
    default_input_size: int
    imagenet_weights: bool


class ReportedOut(BaseModel):
    accuracy: float | None = Field(description="The accuracy the source reports, as a fraction")
    f1_macro: float | None = Field(default=None, description="The macro-F1 the source reports, when it does")
    on: str = Field(description="The test set of that figure, in the source's words")


class RecipeOut(BaseModel):
    """One named recipe (fer_models.training.recipes.Recipe.to_dict)."""

    name: str
    model: str
    summary: str
    source: str = Field(description="Where the recipe comes from")
    reported: ReportedOut | None = Field(description="What the source reports; null when it gives no figure")
    notes: str
    tags: list[str] = Field(description="'writeup' marks the recipes of the write-up's table")
    spec: dict[str, Any] = Field(description="Every spec value the recipe trains with (POST /experiments with "
                                             "{\"recipe\": name, \"dataset\": ...} and any overrides)")


class Problem(BaseModel):
    detail: Any = Field(description="What was wrong; for 422 a list of {loc, msg, type}")


class Progress(BaseModel):
    epoch: int | None = None
    epochs: int | None = None
    batch: int | None = None
    batches: int | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    eta_seconds: float | None = None


class ExperimentOut(BaseModel):
    model_config = {"protected_namespaces": ()}

    id: str
    status: Status
    model: str
    family: str | None
    dataset: str
    seed: int
    group_id: str | None
    spec_key: str
    spec: dict[str, Any]
    progress: dict[str, Any] | None = Field(description="epoch k of n, batch, latest train/val metrics, ETA")
    metrics: dict[str, float | None] | None = Field(description="Final test-set metrics once succeeded")
    per_class: dict[str, Any] | None = None
    split_fingerprint: str | None = None
    mlflow_run_id: str | None
    mlflow_url: str | None = Field(description="The run in the MLflow UI (when the tracking server is http)")
    error: str | None
    stopped_reason: str | None = None
    attempts: int
    cancel_requested: bool
    worker: str | None
    created_at: UtcDatetime
    enqueued_at: UtcDatetime | None
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    heartbeat_at: UtcDatetime | None


class ExperimentList(BaseModel):
    items: list[ExperimentOut]
    total: int
    limit: int
    offset: int


class LeaderboardEntryOut(LeaderboardEntry):
    metric: Metric
    protocol: Protocol = "holdout"
    experiment_url: str
    mlflow_url: str | None


class LeaderboardOut(BaseModel):
    metric: Metric
    order: Literal["asc", "desc"]
    dataset: str | None
    protocol: Protocol = Field("holdout", description="The protocol every entry of this ranking used (never mixed)")
    recipe: str | None = None
    entries: list[LeaderboardEntryOut]


class DependencyHealth(BaseModel):
    ok: bool
    detail: str | None = None


class HealthOut(BaseModel):
    status: Literal["ok", "unavailable"]
    dependencies: dict[str, DependencyHealth]


class StatOut(BaseModel):
    mean: float | None = Field(description="Mean over the seeds that succeeded")
    std: float | None = Field(description="Sample standard deviation over those seeds; null with one seed")


class WriteupRowOut(BaseModel):
    """One write-up model: the write-up's figures beside ours (ferbench.reports.writeup_table.WriteupRow)."""

    model_config = {"protected_namespaces": ()}

    model: str
    recipe: str
    reported_accuracy: float | None = Field(description="The write-up's accuracy (fraction); null where it gives none")
    reported_f1_macro: float | None = Field(description="The write-up's macro-F1; null where it gives none")
    reported_on: str = Field(description="The test set of the write-up's figure, in its words")
    accuracy: StatOut
    f1_macro: StatOut
    train_seconds: StatOut
    params: float | None
    seeds: int = Field(description="Seeds that succeeded")
    failed: int = Field(description="Seeds that did not succeed")
    quick: bool = Field(description="Scaled down by the quick rule (epochs, input size, time budget): not the "
                                    "write-up's settings")
    deviations: list[str] = Field(description="What ran differently from the recipe, in words")
    protocol: str
    dataset: str
    experiment_ids: list[str]
    notes: list[str] = Field(description="Seeds that failed or were cancelled, with the first line of the error")


class WriteupReportIn(BaseModel):
    """The finished experiments of the write-up's recipes to tabulate (what `ferbench reproduce writeup` ran)."""

    experiment_ids: list[Annotated[str, Field(max_length=36)]] = Field(min_length=1, max_length=500)


class WriteupReportOut(BaseModel):
    id: str
    title: str = Field(description="Says QUICK (and the rule) when any row is scaled down, MIXED when some are")
    scale: Literal["full", "quick", "mixed"]
    quick: bool = Field(description="True when any row is a quick one")
    dataset: str
    seeds: int
    rows: list[WriteupRowOut]
    markdown: str
    png_url: str = Field(description="The same table as a PNG")
    experiment_ids: list[str]
    mlflow_run_id: str | None = Field(description="The MLflow run holding table.md and table.png (experiment "
                                                  "ferbench-reports)")
    mlflow_url: str | None
    mlflow_error: str | None = Field(description="Why the report could not be logged to MLflow, if it could not")
    created_at: UtcDatetime


class EnsembleTopIn(BaseModel):
    """The best `k` specs of a leaderboard (each spec's best seed is the member)."""

    model_config = {"extra": "forbid", "protected_namespaces": ()}

    dataset: str
    k: int = Field(ge=1, le=50, description="How many leaderboard entries")
    metric: Metric = "accuracy"
    model: str | None = None
    split_fingerprint: str | None = None
    protocol: Protocol | None = None


class EnsembleIn(BaseModel):
    """Members as experiment ids, or as a leaderboard query (`top`); exactly one of the two."""

    model_config = {"extra": "forbid"}

    members: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=100, description="Experiment ids; one given twice weighs double in `mean`")
    top: EnsembleTopIn | None = None
    method: Literal["mean", "weighted", "greedy"] = Field(
        "mean", description="mean: average probabilities; weighted: weights fitted on validation; greedy: "
                            "forward selection with replacement on validation (Caruana et al. 2004)")

    @model_validator(mode="after")
    def _one_source(self) -> EnsembleIn:
        if (self.members is None) == (self.top is None):
            raise ValueError("give either members (experiment ids) or top (a leaderboard query), not both or neither")
        return self


class SweepParamIn(BaseModel):
    """One searched parameter: `choice` of `values`; or an `int`, `float` or `log` range from `low` to
    `high` (log: sampled uniformly in log space, low > 0), with an optional `step` (not with log)."""

    model_config = {"extra": "forbid"}

    kind: Literal["choice", "int", "float", "log"]
    values: list[bool | int | float | str] | None = Field(None, max_length=1000, description="choice: the values")
    low: float | None = None
    high: float | None = None
    step: float | None = Field(None, gt=0)


class SweepPrunerIn(BaseModel):
    """The pruner, fed each epoch's value of the objective. median: stop a trial whose value at an epoch is worse
    than the median of earlier trials' at that epoch (after `startup_trials` complete trials and `warmup_epochs`);
    hyperband: successive halving over epochs; none: every trial runs to its end."""

    model_config = {"extra": "forbid"}

    kind: Literal["median", "hyperband", "none"] = "median"
    startup_trials: int = Field(2, ge=0, le=1000)
    warmup_epochs: int = Field(0, ge=0, le=1000)
    min_epochs: int = Field(1, ge=1, le=1000, description="hyperband's minimum resource")
    reduction_factor: int = Field(3, ge=2, le=100, description="hyperband's reduction factor")


class SweepIn(BaseModel):
    """POST /sweeps. `base` is an experiment spec as POST /experiments takes it (a `recipe` with overrides is
    one); `space` maps spec fields (`learning_rate`) and model hyperparameters (`hp.filters`) to how each
    is searched. Each trial runs `seeds` experiments (seeds base.seed, base.seed+1, ...); its objective is
    their mean of the last epoch's validation metric."""

    model_config = {"extra": "forbid"}

    base: dict[str, Any]
    space: dict[str, SweepParamIn] = Field(min_length=1, max_length=32)
    sampler: Literal["tpe", "random", "grid", "cmaes"] = "tpe"
    sampler_seed: int = Field(0, ge=0, le=2**31 - 1)
    n_trials: int = Field(ge=1, description="Trials in all (the server caps it)")
    parallel: int = Field(1, ge=1, description="Trials run at once (the server caps it)")
    pruner: SweepPrunerIn | Literal["median", "hyperband", "none"] = "median"
    objective: str = Field("val_accuracy", description="val_accuracy (maximised) or val_loss (minimised); "
                                                       "never a test metric")
    seeds: int = Field(1, ge=1, le=10)


class SweepExperimentOut(BaseModel):
    id: str
    status: Status
    seed: int
    sweep_value: float | None = Field(description="The objective this run reached (last epoch's validation metric)")
    stopped_reason: str | None
    error: str | None
    mlflow_run_id: str | None
    mlflow_url: str | None
    experiment_url: str


class SweepTrialOut(BaseModel):
    number: int
    state: Literal["running", "complete", "pruned", "failed", "cancelled"]
    params: dict[str, Any]
    value: float | None = Field(description="The objective: the mean over the trial's seeds")
    spec: dict[str, Any] | None = Field(description="The spec of the trial's first seed")
    experiments: list[SweepExperimentOut]
    test_metrics: dict[str, float | None] | None = Field(
        None, description="Mean test metrics over the trial's seeds (reported, never tuned on)")


class SweepOut(BaseModel):
    model_config = {"protected_namespaces": ()}

    id: str
    status: Literal["running", "cancelling", "succeeded", "cancelled", "failed"]
    model: str
    dataset: str
    base_spec: dict[str, Any]
    space: dict[str, Any]
    sampler: str
    sampler_seed: int
    pruner: dict[str, Any]
    objective: str
    direction: Literal["maximize", "minimize"]
    n_trials: int
    parallel: int
    seeds: int
    trial_states: dict[str, int] = Field(description="How many trials are in each state")
    best: SweepTrialOut | None = Field(description="The complete trial with the best objective, with its test metrics")
    trials: list[SweepTrialOut] | None = Field(description="Every trial (GET /sweeps/{id}; omitted in lists)")
    mlflow_run_id: str | None = Field(description="The parent MLflow run; the trials' runs are its children")
    mlflow_url: str | None
    error: str | None
    created_at: UtcDatetime
    finished_at: UtcDatetime | None


class SweepList(BaseModel):
    items: list[SweepOut]
    total: int
    limit: int
    offset: int


# -- datasets (GET /datasets, POST /datasets) ------------------------------------------------------

DatasetOrigin = Literal["local", "built-in", "uploaded"]


class DatasetOut(BaseModel):
    """One dataset: a local one (a worker's data folder), the built-in generator, or an uploaded one."""

    name: str
    present: bool = Field(description="Local: in this server's data folder or cache; uploaded: always")
    classes: list[str]
    split_sizes: dict[str, int] | None = Field(description="None until a local dataset is decoded")
    cached: bool
    how_to_get: str
    origin: DatasetOrigin
    usable_on: str = Field(description="Which workers can train on it")
    fingerprint: str | None = Field(default=None, description="Uploaded: the content fingerprint")
    upload_bytes: int | None = None
    created_at: UtcDatetime | None = None


class DatasetUploadOut(BaseModel):
    """POST /datasets: the registered dataset, whether this upload created it, and its data report."""

    created: bool = Field(description="False: the same content was already registered (maybe under another name)")
    message: str
    dataset: DatasetOut
    report: dict[str, Any] = Field(description="The data report: class balance per split, duplicates, what was skipped")


# ---- the model registry and predictions (issue 13) -------------------------------------------------------------


class PromoteIn(BaseModel):
    experiment_id: str = Field(min_length=1, max_length=64, description="A succeeded experiment")
    name: str = Field(default=DEFAULT_MODEL_NAME, min_length=1, max_length=128, description="Registered model name")
    alias: str = Field(default=DEFAULT_ALIAS, min_length=1, max_length=64, description="Alias moved onto the new version")


class ModelVersionOut(BaseModel):
    model_config = {"protected_namespaces": ()}

    name: str
    version: str
    aliases: list[str] = Field(description="The aliases pointing at this version")
    experiment_id: str | None = Field(description="The FER Bench experiment it came from")
    source: str = Field(description="The MLflow model it was registered from (models:/<id> or runs:/<run>/model)")
    run_id: str | None
    model_id: str | None = Field(description="MLflow logged model id")
    tags: dict[str, str] = Field(description="experiment_id, dataset, split_fingerprint, recipe, test_accuracy, ...")
    created_ms: int


class RegisteredModelOut(BaseModel):
    name: str
    aliases: dict[str, str] = Field(description="alias -> version")
    versions: list[ModelVersionOut]


class RegistryOut(BaseModel):
    models: list[RegisteredModelOut]


class FaceBox(BaseModel):
    x: int
    y: int
    width: int
    height: int


class FaceOut(BaseModel):
    box: FaceBox = Field(description="Where the face is in the image, in pixels; the whole image with faces=cropped")
    emotion: str
    probabilities: dict[str, float] = Field(description="Every class's probability, in the model's class order")


class ImagePredictionOut(BaseModel):
    filename: str | None
    width: int
    height: int
    faces: list[FaceOut] = Field(description="Empty when no face was found (not an error)")
    notes: list[str] = Field(default_factory=list, description="e.g. that only the first frame of an animation was read")


class ServedModelOut(BaseModel):
    model_config = {"protected_namespaces": ()}

    name: str
    version: str
    reference: str = Field(description="What the request asked for: an alias, a version or an experiment id")
    experiment_id: str | None


class PredictOut(BaseModel):
    model: ServedModelOut
    images: list[ImagePredictionOut]
