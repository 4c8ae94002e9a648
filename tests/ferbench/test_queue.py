"""The Celery configuration built from the settings: the limits and timeouts long jobs depend on."""

from __future__ import annotations

from ferbench.queue import make_celery
from ferbench.settings import Settings

BROKER = "redis://127.0.0.1:1/0"  # never contacted: building the app connects to nothing


def test_the_visibility_timeout_is_set_everywhere_celery_reads_it_and_outlasts_the_hard_limit() -> None:
    conf = make_celery(Settings(task_hard_time_limit_s=7200), broker_url=BROKER).conf
    for options in (conf.broker_transport_options, conf.result_backend_transport_options):
        assert options["visibility_timeout"] == 7200 + 600
    short = make_celery(Settings(broker_visibility_timeout_s=3), broker_url=BROKER).conf
    assert short.broker_transport_options["visibility_timeout"] == 3
    # Kombu's sweep for expired deliveries must run often enough for a short timeout to mean anything.
    assert short.broker_transport_options["unacked_restore_interval"] * \
        short.broker_transport_options["unacked_restore_throttle"] <= 3


def test_a_soft_limit_not_below_the_hard_one_is_dropped_so_the_hard_cap_still_fires() -> None:
    both = make_celery(Settings(task_soft_time_limit_s=100, task_hard_time_limit_s=200), broker_url=BROKER).conf
    assert (both.task_soft_time_limit, both.task_time_limit) == (100, 200)
    inverted = make_celery(Settings(task_soft_time_limit_s=500, task_hard_time_limit_s=200), broker_url=BROKER).conf
    assert (inverted.task_soft_time_limit, inverted.task_time_limit) == (None, 200)
    assert inverted.task_acks_late and inverted.task_reject_on_worker_lost and inverted.worker_prefetch_multiplier == 1
