"""The worker's Celery app: `celery -A worker.celery_app worker -Q gpu -c 1 --max-tasks-per-child=1`.

Settings come from ferbench.queue (one place for the queue's configuration). Importing this module
never imports TensorFlow: the engine is imported inside the task, in the pool's child process,
because TensorFlow and CUDA do not survive a fork.

Reliability hooks (docs/reliability.md): the outbox drain and the reaper run in the main process
(at start-up, the reaper then periodically); SIGTERM asks the pool process to requeue its job; a
task killed by the hard time limit is failed with the reason here, in the main process, because the
process that ran it is gone.
"""

from __future__ import annotations

import logging
import sys
import threading

from celery.exceptions import TimeLimitExceeded
from celery.signals import task_failure, worker_init, worker_process_init, worker_ready, worker_shutting_down

from ferbench.queue import enqueue_experiment, make_celery
from ferbench.settings import get_settings

log = logging.getLogger(__name__)

app = make_celery(get_settings())
app.conf.include = ["worker.tasks"]
# Celery's prefork pool plus one idle process ready for the next task (worker/pool.py); `-P prefork` picks it too.
app.conf.worker_pool = "worker.pool:WarmSparePool"
_stop_reaper = threading.Event()


@worker_init.connect
def _prepare_worker(**_kwargs: object) -> None:
    """Before the pool forks: our own log lines to stderr, and the TF-free catalogue loaded once."""
    import fer_models.models.registry  # noqa: F401 - so a claim does not wait for it

    # The queue settings keep Celery off the root logger; the task's own messages (claimed, skipped,
    # failed) still belong in the worker's log.
    ours = logging.getLogger("worker")
    if not ours.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s: %(levelname)s/%(processName)s] %(name)s: %(message)s"))
        ours.addHandler(handler)
        ours.setLevel(logging.INFO)
        ours.propagate = False


@worker_ready.connect
def _start_reaper(**_kwargs: object) -> None:
    from worker.reaper import start_reaper

    start_reaper(get_settings(), lambda experiment_id: enqueue_experiment(app, experiment_id), _stop_reaper)
    idle_exit_s = get_settings().worker_idle_exit_s
    if idle_exit_s is not None:
        from worker.idle_exit import watch_idle

        watch_idle(idle_exit_s, _stop_reaper)


@worker_process_init.connect
def _listen_for_shutdown(**_kwargs: object) -> None:
    from worker.shutdown import install_child_handler

    install_child_handler()


@worker_shutting_down.connect
def _requeue_running_jobs(**_kwargs: object) -> None:
    from worker.shutdown import signal_pool_children

    _stop_reaper.set()
    signal_pool_children()


@task_failure.connect
def _fail_on_hard_time_limit(task_id: str | None = None, exception: BaseException | None = None,
                             **_kwargs: object) -> None:
    """The hard cap killed the pool process: the experiment (id = task id) is failed with the reason."""
    if not isinstance(exception, TimeLimitExceeded) or not task_id:
        return
    from worker import records

    limit = get_settings().task_hard_time_limit_s
    try:
        records.fail(task_id, f"stopped by the server's hard time limit of {limit} s "
                              "(settings.task_hard_time_limit_s): the training process was killed")
    except Exception:  # noqa: BLE001 - the reaper fails or requeues it later from its stale heartbeat
        log.exception("could not mark %s failed after its hard time limit", task_id)
        return
    from worker.mlflow_runs import end_run_of_failed
    from worker.sweep_trials import after_trial

    end_run_of_failed(task_id, get_settings().mlflow_tracking_uri)
    after_trial(task_id, get_settings(), lambda experiment_id: enqueue_experiment(app, experiment_id))
