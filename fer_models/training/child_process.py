"""run_experiment in a child process, so that a crash in native code cannot take the caller down.

A segfault inside TensorFlow (or the OOM killer) ends the process that trains, with no Python
exception to catch. The Celery worker is safe because its pool process trains; `ferbench train`
gets the same here: the child trains, progress and the result come back over a queue, and when the
child dies of a signal the caller gets a TrainingProcessDied naming it, with the MLflow run ended
FAILED (the child could not end it). Spawned, not forked: the parent may hold threads and sockets.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import signal
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_models.errors import FerBenchError, TrainingError
from fer_models.training.hooks import ExperimentResult, Progress, RunHooks
from fer_models.training.spec import ExperimentSpec

_POLL_S = 0.2


class TrainingProcessDied(TrainingError):
    """The training process ended without a result: killed by a signal, or exited."""


@dataclass(frozen=True)
class _Job:
    spec: ExperimentSpec
    work_dir: Path
    data_dir: Path
    cache_dir: Path
    tracking_uri: str | None
    progress_every_batches: int


def exit_description(exitcode: int | None) -> str:
    """"killed by SIGSEGV" for a negative exit code (a signal), "exited with status N" otherwise."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


def _child(job: _Job, events: Any, stop: Any) -> None:
    # Ctrl-C reaches the whole process group: the parent turns it into `stop`, the child must not die of it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from fer_models.training.engine import run_experiment

    hooks = RunHooks(on_run_started=lambda run_id: events.put(("run", run_id)),
                     on_progress=lambda p: events.put(("progress", p)),
                     should_stop=stop.is_set, progress_every_batches=job.progress_every_batches)
    try:
        result = run_experiment(job.spec, work_dir=job.work_dir, data_dir=job.data_dir, cache_dir=job.cache_dir,
                                tracking_uri=job.tracking_uri, hooks=hooks)
    except FerBenchError as exc:
        events.put(("error", exc))  # pickled whole: its class, message and any partial metrics
        return
    except BaseException as exc:  # noqa: BLE001 - a bug: its traceback goes to stderr, one line to the caller
        traceback.print_exc()
        events.put(("error", TrainingError(f"{type(exc).__name__}: {exc}")))
        return
    events.put(("result", result))


def run_experiment_in_child(spec: ExperimentSpec, *, work_dir: Path, data_dir: Path, cache_dir: Path,
                            tracking_uri: str | None = None, hooks: RunHooks | None = None) -> ExperimentResult:
    """run_experiment's contract, trained in a spawned child process; hooks run here, in the caller.

    Raises what run_experiment raises (its FerBenchError, pickled across) and
    TrainingProcessDied when the child ends without a result.
    """
    hooks = hooks or RunHooks()
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    stop = context.Event()
    job = _Job(spec, Path(work_dir), Path(data_dir), Path(cache_dir), tracking_uri, hooks.progress_every_batches)
    child = context.Process(target=_child, args=(job, events, stop), name="ferbench-train", daemon=True)
    child.start()
    run_id: str | None = None
    last: Progress | None = None
    try:
        while True:
            if hooks.should_stop is not None and hooks.should_stop():
                stop.set()
            try:
                event = events.get(timeout=_POLL_S)
            except queue_module.Empty:
                if child.is_alive():
                    continue
                try:  # the child may have put its last event just before exiting
                    event = events.get(timeout=_POLL_S)
                except queue_module.Empty:
                    break
            kind = event[0]
            if kind == "run":
                run_id = event[1]
                if hooks.on_run_started is not None:
                    hooks.on_run_started(run_id)
            elif kind == "progress":
                last = event[1]
                if hooks.on_progress is not None:
                    hooks.on_progress(last)
            elif kind == "result":
                return event[1]
            elif kind == "error":
                raise event[1]
    except BaseException as exc:
        if child.is_alive():
            child.terminate()
            if isinstance(exc, KeyboardInterrupt) and run_id is not None and tracking_uri is not None:
                from fer_models.tracking.run_logger import end_run

                end_run(tracking_uri, run_id, "KILLED", "interrupted")
        raise
    finally:
        child.join(timeout=30)
    where = f" in epoch {last.epoch} of {last.epochs}" if last is not None else " before its first epoch"
    message = f"the training process was {exit_description(child.exitcode)}{where}"
    if run_id is not None and tracking_uri is not None:
        from fer_models.tracking.run_logger import end_run

        if end_run(tracking_uri, run_id, "FAILED", message):
            message += f"; MLflow run {run_id} ended FAILED"
    raise TrainingProcessDied(message)
