"""run_experiment: one spec in, a trained, evaluated and fully logged model out.

Used in-process by the CLI and by the Celery worker. Data stays in memory as arrays and goes to
`model.fit` whole (Keras batches it, no Python per-image loop). Augmentation is a layer in front of
the model, so it runs in the graph and only in training. A checkpoint after every epoch lets an
interrupted run resume in the same MLflow run; the MLflow run never stays RUNNING.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_models.errors import FerBenchError, ResultNotLogged, TrainingError
from fer_models.training.checkpoint import BEST_WEIGHTS_FILE, CheckpointState, load_state
from fer_models.training.hooks import ExperimentResult, Progress, RunHooks
from fer_models.training.model_setup import (apply_weight_average, build_models, compile_model, phase_for_epoch,
                                             policy_name, precision_policy, training_phases)
from fer_models.training.schedule import from_dict
from fer_models.training.spec import ExperimentSpec

if TYPE_CHECKING:
    from fer_models.tracking.keras_model import StagedModel

__all__ = ["ExperimentResult", "Progress", "RunHooks", "run_experiment"]

DEFAULT_MONITOR = "val_loss"


def _is_oom(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return isinstance(exc, MemoryError) or "ResourceExhausted" in text or "RESOURCE_EXHAUSTED" in text \
        or "out of memory" in text.lower()


def _spec_params(spec: ExperimentSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


# ---- the engine --------------------------------------------------------------------------------


def run_experiment(
    spec: ExperimentSpec,
    *,
    work_dir: Path,
    data_dir: Path,
    cache_dir: Path,
    tracking_uri: str | None = None,
    mlflow_run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    hooks: RunHooks | None = None,
    dataset_file: Path | None = None,
) -> ExperimentResult:
    """Train, evaluate and log one experiment; resume from work_dir's checkpoint when there is one.

    dataset_file: the cache file of an uploaded dataset (read instead of looking for `spec.dataset`).
    tracking_uri None: no MLflow logging (benchmarks, quick trials). Raises TrainingError on
    divergence or out-of-memory, DatasetError/ModelError/SpecError on bad input (all before training),
    ResultNotLogged (with the computed test-set metrics) when the final logging to MLflow fails.
    """
    hooks = hooks or RunHooks()
    work_dir = Path(work_dir)
    state = load_state(work_dir)
    if state is not None and state.spec and state.spec != _spec_params(spec):
        raise FerBenchError(
            f"the checkpoint in {work_dir} belongs to a different spec; use a new work folder or delete it"
        )
    run_id = mlflow_run_id or (state.mlflow_run_id if state else None)

    from fer_models.tracking.uri import validate_tracking_uri

    if tracking_uri is not None:
        validate_tracking_uri(tracking_uri)  # before any data is loaded: a bad URI costs nothing
    from fer_models.data.catalog import load_cache_file, load_dataset

    if dataset_file is not None:  # an uploaded dataset, its cache fetched by fingerprint
        dataset = load_cache_file(dataset_file, spec.dataset, split_seed=spec.split_seed)
    else:
        dataset = load_dataset(spec.dataset, data_dir=data_dir, cache_dir=cache_dir, split_seed=spec.split_seed)

    logger = None
    if tracking_uri is not None:
        from fer_models.tracking.run_logger import RunLogger

        logger = RunLogger(tracking_uri)
    try:
        if logger is not None:
            run_id = logger.open(dataset.name, run_id=run_id, run_name=f"{spec.model}-{spec.dataset}",
                                 tags=_run_tags(spec, dataset, tags))
        if hooks.on_run_started is not None:
            hooks.on_run_started(run_id)
        if logger is not None:
            from fer_models.tracking.logged_model import DatasetRef

            logger.log_params(_run_params(spec, dataset))
            logger.log_dataset(DatasetRef.of(dataset))
        result = _train_and_evaluate(spec, dataset, work_dir, state, run_id, logger, hooks)
    except BaseException as exc:
        if logger is not None and logger.run_id is not None:
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            with contextlib.suppress(Exception):  # the original error matters more than a logging one
                logger.finish(status, error=f"{type(exc).__name__}: {exc}")
        if _is_oom(exc) and not isinstance(exc, FerBenchError):
            raise TrainingError(
                f"out of memory training {spec.model} at batch size {spec.batch_size}: "
                f"try a smaller batch (e.g. --batch-size {max(spec.batch_size // 2, 1)})"
            ) from exc
        raise
    if logger is not None:
        logger.finish("KILLED" if result.status == "cancelled" else "FINISHED")
    return result


def _run_tags(spec: ExperimentSpec, dataset: Any, tags: Mapping[str, str] | None) -> dict[str, str]:
    from fer_models.models.registry import get_model_info
    from fer_models.tracking.context import device_description, git_commit, keras_backend

    out = {
        "model": spec.model,
        "family": get_model_info(spec.model).family,
        "dataset": dataset.name,
        "split_fingerprint": dataset.split_fingerprint,
        "dataset_fingerprint": dataset.source_fingerprint,
        "protocol": dataset.protocol,
        "keras_backend": keras_backend(),
        "device": device_description(),
    }
    if spec.recipe:
        out["recipe"] = spec.recipe
    commit = git_commit()
    if commit:
        out["git_commit"] = commit
        out["mlflow.source.git.commit"] = commit
    out.update({str(k): str(v) for k, v in (tags or {}).items()})
    return out


def _run_params(spec: ExperimentSpec, dataset: Any) -> dict[str, Any]:
    from fer_models.tracking.context import library_versions

    return {
        **_spec_params(spec),
        "version": library_versions(),
        "dataset_fingerprint": dataset.source_fingerprint,
        "split_fingerprint": dataset.split_fingerprint,
        "split_sizes": dataset.split_sizes(),
    }


def _train_and_evaluate(spec: ExperimentSpec, dataset: Any, work_dir: Path, state: CheckpointState | None,
                        run_id: str | None, logger: Any, hooks: RunHooks) -> ExperimentResult:
    import keras

    from fer_models.data.pipeline import class_weights, to_model_input
    from fer_models.models.finetune import apply_phase
    from fer_models.training.callbacks import EngineCallback
    from fer_models.tracking.context import accelerator

    x_train_u8, y_train = dataset.subset("train")
    x_val_u8, y_val = dataset.subset("val")
    if len(y_train) == 0:
        raise TrainingError(f"dataset {dataset.name!r} has no training images after the split")
    num_classes = len(dataset.class_names)
    image_size = int(x_train_u8.shape[1])
    x_train = to_model_input(x_train_u8)
    y_train_1h = keras.utils.to_categorical(y_train, num_classes).astype("float32")
    validation = None
    if len(y_val):
        validation = (to_model_input(x_val_u8), keras.utils.to_categorical(y_val, num_classes).astype("float32"))
    weights = class_weights(y_train, spec.class_weighting, num_classes=num_classes)

    keras.utils.set_random_seed(spec.seed)
    stop_monitor = spec.early_stopping.monitor if spec.early_stopping else DEFAULT_MONITOR
    # The best weights are kept by the metric that will choose them: select_best's, else early stopping's.
    monitor = spec.select_best if spec.select_best != "last" else stop_monitor
    if validation is None:
        monitor = stop_monitor = "loss"
    state = state or CheckpointState(monitor=monitor, spec=_spec_params(spec))
    state.mlflow_run_id = run_id
    controller = from_dict(state.controller)
    phases = training_phases(spec)
    batches = math.ceil(len(y_train) / spec.batch_size)
    budget = spec.time_budget_minutes * 60.0 if spec.time_budget_minutes else None

    def log_epoch(epoch: int, values: dict[str, float]) -> None:
        if logger is not None:
            logger.log_metrics(values, step=epoch)

    if spec.mixup or spec.cutmix:
        from fer_models.training.mixing import mixed_batches

        data = {"x": mixed_batches(x_train, y_train_1h, batch_size=spec.batch_size, mixup=spec.mixup,
                                   cutmix=spec.cutmix, seed=spec.seed, class_weight=weights)}
    else:
        data = {"x": x_train, "y": y_train_1h, "batch_size": spec.batch_size, "class_weight": weights, "shuffle": True}

    with precision_policy(policy_name(spec.precision, accelerator() is not None)):
        train_model, model = build_models(spec, num_classes, image_size)
        callback = EngineCallback(
            epochs=spec.epochs, batches_per_epoch=batches, base_lr=spec.learning_rate, schedule=spec.lr_schedule,
            warmup_epochs=spec.warmup_epochs, monitor=state.monitor, stop_monitor=stop_monitor,
            plateau=(spec.plateau_monitor, spec.plateau_factor, spec.plateau_patience),
            early_stopping_patience=spec.early_stopping.patience if spec.early_stopping else None,
            work_dir=work_dir, state=state, controller=controller, hooks=hooks, log_epoch=log_epoch,
            budget_seconds=budget,
        )
        def enter_phase(index: int) -> None:
            """The phase's trainable set, recompiled at the phase's learning rate."""
            apply_phase(model, phases[index])
            lr = spec.learning_rate * phases[index].lr_factor
            compile_model(train_model, spec, lr)
            callback.base_lr = lr

        start_epoch = state.epochs_completed
        compiled_phase: int | None = None
        if start_epoch > 0:
            # Resume into the phase the checkpoint was written in, so the optimizer's slots line up.
            compiled_phase = phase_for_epoch(phases, start_epoch - 1)
            enter_phase(compiled_phase)
            train_model.optimizer.build(train_model.trainable_variables)
            train_model.load_weights(work_dir / state.model_file)
        for index in range(phase_for_epoch(phases, start_epoch), len(phases)):
            phase = phases[index]
            end = phases[index + 1].start_epoch if index + 1 < len(phases) else spec.epochs
            end = min(end, spec.epochs)
            begin = max(start_epoch, phase.start_epoch)
            if begin >= end:
                continue
            if compiled_phase != index:
                enter_phase(index)
                compiled_phase = index
            train_model.fit(**data, epochs=end, initial_epoch=begin, validation_data=validation, verbose=0,
                            callbacks=[callback])
            if callback.diverged_at is not None:
                epoch, batch = callback.diverged_at
                raise TrainingError(
                    f"diverged at epoch {epoch}, batch {batch}: the loss became NaN or infinite; "
                    f"try a smaller learning rate than {spec.learning_rate:g}"
                )
            if callback.stop_reason is not None:
                break

        if callback.stop_reason == "cancelled":
            return ExperimentResult(
                status="cancelled", metrics={}, per_class={}, confusion_matrix=[], history=state.history,
                mlflow_run_id=run_id, dataset_fingerprint=dataset.source_fingerprint,
                split_fingerprint=dataset.split_fingerprint, epochs_completed=state.epochs_completed,
                stopped_reason="cancelled",
            )
        # Which weights are evaluated: the average (the spec allows no other choice with it), the best
        # epoch's, or the last.
        use_best = spec.select_best != "last" or callback.stop_reason == "time_budget" or (
            spec.early_stopping is not None and spec.early_stopping.restore_best_weights
        )
        best_file = work_dir / BEST_WEIGHTS_FILE
        if spec.ema_decay:
            apply_weight_average(train_model)
        elif use_best and best_file.exists():
            train_model.load_weights(best_file)
        return _evaluate_and_log(spec, dataset, model, state, run_id, logger, callback.stop_reason)


def _evaluate_and_log(spec: ExperimentSpec, dataset: Any, model: Any, state: CheckpointState, run_id: str | None,
                      logger: Any, stop_reason: str | None) -> ExperimentResult:
    from fer_models.data.augmentation import resolve_config
    from fer_models.evaluation.evaluate import evaluate_model
    from fer_models.evaluation.predictions import ARTIFACT_DIR, ARTIFACT_FILE, interval_metrics, predictions_of

    x_test, y_test = dataset.subset("test")
    tta_crop = resolve_config(spec.augmentation).crop_size or None
    evaluation = evaluate_model(model, x_test, y_test, list(dataset.class_names), tta=spec.tta, tta_crop=tta_crop)
    predictions = predictions_of(model, dataset, evaluation.probs, evaluation.labels, tta=spec.tta, tta_crop=tta_crop)
    parts = {**_test_part_metrics(dataset, evaluation), **interval_metrics(evaluation.labels, evaluation.probs)}
    if logger is None:
        metrics = {**_final_metrics(model, evaluation, state, keras_file=None), **parts}
    else:
        with tempfile.TemporaryDirectory(prefix="ferbench-model-") as tmp:
            # Serialised once: model_bytes measures the `.keras` file inside the folder MLflow receives.
            staged = _stage_model(model, dataset, Path(tmp))
            metrics = {**_final_metrics(model, evaluation, state, keras_file=staged.keras_file), **parts}
            try:
                _log_final(logger, spec, dataset, evaluation, metrics, state, staged)
                logger.log_bytes(predictions.to_bytes(), ARTIFACT_DIR, ARTIFACT_FILE)
            except Exception as exc:
                # The tracking server went away at the end: the caller can still keep what was computed.
                # The message is the cause's, as the caller would have reported the cause itself.
                message = str(exc) if isinstance(exc, FerBenchError) else f"{type(exc).__name__}: {exc}"
                raise ResultNotLogged(message, metrics) from exc
    status = "stopped_budget" if stop_reason == "time_budget" else "succeeded"
    return ExperimentResult(
        status=status, metrics=metrics, per_class=evaluation.report.per_class,
        confusion_matrix=evaluation.report.confusion_matrix, history=state.history, mlflow_run_id=run_id,
        dataset_fingerprint=dataset.source_fingerprint, split_fingerprint=dataset.split_fingerprint,
        epochs_completed=state.epochs_completed,
        stopped_reason=stop_reason, protocol=dataset.protocol, predictions=predictions,
    )


PART_METRICS = ("accuracy", "f1_macro")


def _test_part_metrics(dataset: Any, evaluation: Any) -> dict[str, float]:
    """`public_accuracy`, `private_f1_macro`, ...: the headline metrics on each part of an official test set
    that has two (FER2013's PublicTest and PrivateTest, which papers quote one or the other of); else none."""
    from fer_models.evaluation.metrics import classification_report

    out: dict[str, float] = {}
    for part, mask in dataset.test_parts().items():
        report = classification_report(evaluation.labels[mask], evaluation.probs[mask])
        out.update({f"{part}_{name}": float(report.metrics[name]) for name in PART_METRICS})
    return out


def _final_metrics(model: Any, evaluation: Any, state: CheckpointState, *, keras_file: Path | None) -> dict[str, float]:
    from fer_models.models.figures import model_figures

    figures = model_figures(model, keras_file=keras_file)
    epoch_seconds = state.history.get("epoch_seconds", [])
    metrics = {
        **evaluation.metrics,
        "train_seconds": float(state.train_seconds),
        "epoch_seconds": float(np.mean(epoch_seconds)) if epoch_seconds else 0.0,
        "params": float(figures.params_total),
        "params_trainable": float(figures.params_trainable),
        "model_bytes": float(figures.model_bytes),
        "epochs_completed": float(state.epochs_completed),
    }
    if figures.flops_per_image:
        metrics["flops_per_image"] = float(figures.flops_per_image)
    return metrics


def _stage_model(model: Any, dataset: Any, folder: Path) -> StagedModel:
    """The model as the MLflow Keras-flavour folder that _log_final uploads, with a two-image input example."""
    from fer_models.data.pipeline import to_model_input
    from fer_models.tracking.keras_model import MODEL_ARTIFACT_PATH, StagedModel, save_keras_flavour

    x_test, _ = dataset.subset("test")
    example = to_model_input((x_test if len(x_test) else dataset.subset("train")[0])[:2])
    return StagedModel(save_keras_flavour(model, folder / MODEL_ARTIFACT_PATH, example), example)


def _log_final(logger: Any, spec: ExperimentSpec, dataset: Any, evaluation: Any, metrics: dict[str, float],
               state: CheckpointState, staged: StagedModel) -> None:
    from fer_models.evaluation.plots import plot_confusion_matrix, plot_roc_curves, plot_training_curves

    from fer_models.tracking.logged_model import DatasetRef
    from fer_models.tracking.run_logger import final_metric_keys

    model_tags = {"model": spec.model, "dataset": dataset.name, "split_fingerprint": dataset.split_fingerprint}
    if spec.recipe:
        model_tags["recipe"] = spec.recipe
    # The model first, so that the final metrics can be linked to it (MLflow 3's model metrics).
    model_id = logger.log_staged_model(staged, name=spec.model, tags=model_tags, step=state.epochs_completed)
    logger.log_metrics(final_metric_keys(metrics), step=state.epochs_completed, model_id=model_id,
                       dataset=DatasetRef.of(dataset))
    names = list(dataset.class_names)
    title = f"{spec.model} on {dataset.name}"
    with tempfile.TemporaryDirectory(prefix="ferbench-artifacts-") as tmp:
        tmp_path = Path(tmp)
        for path in (
            plot_confusion_matrix(evaluation.report.confusion_matrix, names, tmp_path / "confusion_matrix.png",
                                  title=f"Normalised confusion matrix: {title}"),
            plot_training_curves(state.history, tmp_path / "training_curves.png", title=f"Training curves: {title}"),
            plot_roc_curves(evaluation.labels, evaluation.probs, names, tmp_path / "roc_curves.png",
                            title=f"ROC curves: {title}"),
        ):
            logger.log_artifact(path, "plots")
    logger.log_json(
        {"class_names": names, "per_class": evaluation.report.per_class,
         "confusion_matrix": evaluation.report.confusion_matrix, "metrics": metrics, "tta": spec.tta},
        "per_class_report.json",
    )
