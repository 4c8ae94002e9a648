"""The Celery client both the API and the worker use: one place for the queue's settings.

Importing this never imports TensorFlow: the API enqueues by task name only.
"""

from __future__ import annotations

from celery import Celery

from ferbench.settings import Settings

RUN_EXPERIMENT_TASK = "ferbench.run_experiment"
GPU_QUEUE = "gpu"


def visibility_timeout_s(settings: Settings) -> int:
    """How long Redis waits for an unacknowledged task before delivering it again.

    It should outlast the hard time limit of any task so the broker does not hand a running job to
    a second worker; should it not (settings.broker_visibility_timeout_s set lower), the worker's
    claim still refuses a job whose holder is alive, so the redelivery is a no-op.
    """
    if settings.broker_visibility_timeout_s is not None:
        return int(settings.broker_visibility_timeout_s)
    return settings.task_hard_time_limit_s + 600


def make_celery(settings: Settings, broker_url: str | None = None) -> Celery:
    """A Celery app configured for long GPU jobs (DESIGN.md, "Job lifecycle")."""
    url = broker_url or settings.broker_url
    if not url:
        raise RuntimeError("FERBENCH_BROKER_URL is not set (ferbench up sets it for the processes it starts)")
    timeout = visibility_timeout_s(settings)
    visibility = {
        "visibility_timeout": timeout,
        # Kombu sweeps for expired deliveries every interval * throttle seconds (100 s by default):
        # a short timeout (tests, short jobs) needs a sweep to match, or it would not take effect.
        "unacked_restore_interval": max(1, min(10, timeout // 4)),
        "unacked_restore_throttle": 1 if timeout < 600 else 10,
    }
    app = Celery("ferbench", broker=url, backend=url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        # Billiard arms the hard timer only when the soft one fires: a soft limit at or above the
        # hard one would silently disable the hard cap, so it is dropped instead.
        task_soft_time_limit=(settings.task_soft_time_limit_s
                              if settings.task_soft_time_limit_s < settings.task_hard_time_limit_s else None),
        task_time_limit=settings.task_hard_time_limit_s,
        task_routes={RUN_EXPERIMENT_TASK: {"queue": GPU_QUEUE}},
        task_default_queue=GPU_QUEUE,
        broker_transport_options=visibility,
        result_backend_transport_options=visibility,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
    )
    return app


def enqueue_experiment(app: Celery, experiment_id: str) -> None:
    """Send the run task by name, with the experiment id as the Celery task id.

    No publish retries: with the broker down Celery would otherwise hang for many seconds, while
    the caller (API or outbox drain) keeps the row `pending` and answers or retries on its own.
    """
    app.send_task(
        RUN_EXPERIMENT_TASK,
        args=[experiment_id],
        task_id=experiment_id,
        queue=GPU_QUEUE,
        retry=False,
        ignore_result=True,
    )
