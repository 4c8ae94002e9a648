"""The worker's pool: Celery's prefork pool with one process more than the concurrency, kept idle and ready.

`--max-tasks-per-child=1` ends each pool process after its task, so that TensorFlow frees GPU memory and
whatever one experiment leaked goes with it. Celery replaces a process only after it has exited (billiard's
child waits a second after announcing its exit) and the new one has started: 1-5 s between one task's end and
the next one's claim, the gap between a sweep's trials. With a spare the next task goes to a process that
already exists, while the finished one exits and is replaced in the background.

Still one task at a time: the pool tells Celery it has `concurrency` processes, so the broker prefetch (at
`worker_prefetch_multiplier` x concurrency = 1 unacknowledged message, acks late) and the worker's semaphore
admit one task, and the next message is fetched only once the previous task has returned. The spare imports
nothing of TensorFlow before it runs a task; on a GPU the next task may start while the previous process spends
its last second exiting, but it imports TensorFlow and loads its data (seconds) before it touches the device.
Selected through `worker_pool` in worker/celery_app.py, so the documented command line (`-P prefork`, the
default) is unchanged.
"""

from __future__ import annotations

from typing import Any

from celery.concurrency.asynpool import AsynPool
from celery.concurrency.prefork import TaskPool

SPARE_PROCESSES = 1


class RecyclingAwarePool(AsynPool):
    """Never hands a job to a process that has run its last task: Celery would otherwise count it idle until it
    exits, write the next job to it half of the time, and resend that job only after the exit."""

    def on_job_ready(self, job: Any, i: Any, obj: Any, inqW_fd: int) -> None:
        process = self._fileno_to_inq.get(inqW_fd)
        if process is not None and self._maxtasksperchild:
            process.ferbench_tasks_done = getattr(process, "ferbench_tasks_done", 0) + 1
            if process.ferbench_tasks_done >= self._maxtasksperchild:
                return  # stays busy until it is gone; its file descriptors are dropped when it exits
        super().on_job_ready(job, i, obj, inqW_fd)


class WarmSparePool(TaskPool):
    Pool = RecyclingAwarePool

    def on_start(self) -> None:
        self.limit += SPARE_PROCESSES  # the processes billiard keeps alive
        try:
            super().on_start()
        finally:
            self.limit -= SPARE_PROCESSES  # what Celery reports and sizes its limits by

    @property
    def num_processes(self) -> int:
        """The concurrency (the consumer's prefetch count is derived from it), not the processes kept."""
        return max(1, int(super().num_processes) - SPARE_PROCESSES)
