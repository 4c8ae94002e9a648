"""The worker's Celery app: `celery -A worker.celery_app worker -Q gpu -c 1 --max-tasks-per-child=1`.

Settings come from ferbench.queue (one place for the queue's configuration). Importing this module
never imports TensorFlow: the engine is imported inside the task, in the pool's child process,
because TensorFlow and CUDA do not survive a fork.
"""

from __future__ import annotations

import logging
import sys

from celery.signals import worker_init, worker_ready

from ferbench.queue import enqueue_experiment, make_celery
from ferbench.settings import get_settings

log = logging.getLogger(__name__)

app = make_celery(get_settings())
app.conf.include = ["worker.tasks"]


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
def _drain_outbox_on_start(**_kwargs: object) -> None:
    """Experiments recorded while the broker was unreachable are enqueued as soon as a worker is up."""
    from worker.records import drain_outbox

    try:
        sent = drain_outbox(lambda experiment_id: enqueue_experiment(app, experiment_id))
    except Exception:  # noqa: BLE001 - a worker must start even if the database is briefly down
        log.exception("could not drain the outbox at start-up; the API's own drain will retry")
        return
    if sent:
        log.info("enqueued %d pending experiment(s) from the outbox", sent)
