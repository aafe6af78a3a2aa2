"""Tables for serving: API keys (and their revocations) and enforcement points' decision logs.

All insert-only: a revoked key keeps its row and gains a revocation row; decision-log
reports are kept as received.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from brightline.store.models import Base, BigId, UtcDateTime


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    #: The public half of the key (``bl_<id>_<secret>``).
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal: Mapped[str] = mapped_column(String(128))
    #: JSON list of role names.
    roles: Mapped[str] = mapped_column(Text)
    #: SHA-256 of the secret half, hex. Keys are random 256-bit values, so a plain
    #: hash is enough: there is nothing to guess.
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(128))


class ApiKeyRevocationRow(Base):
    __tablename__ = "api_key_revocations"

    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str] = mapped_column(String(128))


class DecisionLogCountRow(Base):
    """How many requests an enforcement point denied (or would have) per restriction,
    node and hour, as one report said."""

    __tablename__ = "decision_log_counts"
    __table_args__ = (Index("ix_decision_log_counts_hour", "hour"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    enforcement_point: Mapped[str] = mapped_column(String(128))
    report_id: Mapped[str] = mapped_column(String(64))
    restriction_id: Mapped[str] = mapped_column(String(128))
    node: Mapped[str] = mapped_column(String(128))
    hour: Mapped[datetime] = mapped_column(UtcDateTime)
    #: ``deny`` or ``would-deny``.
    effect: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DecisionLogSampleRow(Base):
    __tablename__ = "decision_log_samples"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    enforcement_point: Mapped[str] = mapped_column(String(128))
    report_id: Mapped[str] = mapped_column(String(64))
    #: Canonical JSON of one full decision (request, effect, restriction ids, version).
    decision: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DecisionLogReportRow(Base):
    """One report received, so that a retried report is recognised and not counted twice."""

    __tablename__ = "decision_log_reports"

    report_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    enforcement_point: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    dropped: Mapped[int] = mapped_column(Integer)
