"""The outbox: a row is `pending` until the broker took its message, then `queued`.

A row is stored before its message is sent, so a broker outage never loses a submission: what was
not sent stays `pending` and `drain_outbox` sends it later. Sending twice is harmless: the second
delivery cannot claim the row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ferbench.db.models import Experiment, utcnow

Enqueue = Callable[[str], None]

# A `pending` row younger than this may still be in the hands of the request that created it, which
# sends it itself; others resend only older ones. Longer than a failed send takes (broker connect
# timeout 2 s, socket timeout 5 s).
PENDING_SEND_GRACE_S = 10.0


class BrokerUnavailable(Exception):
    """The rows are stored as `pending` (the outbox) but the broker did not take the messages."""

    def __init__(self, experiment_ids: list[str], cause: BaseException) -> None:
        self.experiment_ids = experiment_ids
        super().__init__(f"the task broker is unreachable ({type(cause).__name__}); "
                         f"{len(experiment_ids)} experiment(s) kept pending and sent once it is back")


def send(session: Session, ids: list[str], enqueue: Enqueue) -> None:
    """Enqueue each row and mark it queued; at the first broker failure the rest stay pending."""
    for i, experiment_id in enumerate(ids):
        try:
            enqueue(experiment_id)
        except Exception as exc:  # noqa: BLE001 - any broker failure leaves the rest in the outbox
            session.rollback()
            raise BrokerUnavailable(ids[i:], exc) from exc
        mark_queued(session, experiment_id)


def mark_queued(session: Session, experiment_id: str) -> bool:
    """pending -> queued after a successful send (a worker may already have claimed it: then no-op)."""
    result = session.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id, Experiment.status == "pending")
        .values(status="queued", enqueued_at=utcnow())
    )
    session.commit()
    return result.rowcount == 1


def drain_outbox(session: Session, enqueue: Enqueue, *, older_than_s: float = PENDING_SEND_GRACE_S,
                 limit: int = 500) -> int:
    """Send every `pending` row (oldest first) and mark it queued; returns how many were sent.

    Stops at the first broker failure (raising BrokerUnavailable). A row sent twice (the API sent it
    and crashed before marking it) is harmless: the second delivery cannot claim it.
    """
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    ids = list(session.scalars(
        select(Experiment.id)
        .where(Experiment.status == "pending", Experiment.created_at <= cutoff)
        .order_by(Experiment.created_at).limit(limit)
    ))
    session.commit()
    send(session, ids, enqueue)
    return len(ids)
