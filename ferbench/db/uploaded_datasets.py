"""Uploaded datasets' rows: look up by name or fingerprint, register, list.

`register` commits its own transaction; the primary key (name) and the unique fingerprint decide races:
of two uploads of one name or one content at once, exactly one inserts and the other is told which won.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ferbench.db.models import UploadedDataset


def by_name(session: Session, name: str) -> UploadedDataset | None:
    return session.get(UploadedDataset, name, populate_existing=True)


def by_fingerprint(session: Session, fingerprint: str) -> UploadedDataset | None:
    return session.scalar(select(UploadedDataset).where(UploadedDataset.fingerprint == fingerprint))


def clashing(session: Session, name: str, fingerprint: str) -> UploadedDataset | None:
    """The row that holds this name or this content, if any (the name first)."""
    rows = list(session.scalars(select(UploadedDataset).where(
        or_(UploadedDataset.name == name, UploadedDataset.fingerprint == fingerprint))))
    rows.sort(key=lambda row: row.name != name)
    return rows[0] if rows else None


def register(session: Session, row: UploadedDataset) -> UploadedDataset:
    """Insert the row; on a lost race the row that won (same name or same content) is returned instead."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        winner = clashing(session, row.name, row.fingerprint)
        if winner is None:
            raise
        return winner
    return row


def list_uploaded(session: Session) -> list[UploadedDataset]:
    return list(session.scalars(select(UploadedDataset).order_by(UploadedDataset.name)))


def uploaded_names(session: Session) -> list[str]:
    return list(session.scalars(select(UploadedDataset.name).order_by(UploadedDataset.name)))
