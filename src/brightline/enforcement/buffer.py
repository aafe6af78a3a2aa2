"""The decision-log buffer of an enforcement point: bounded, kept on disk, never silent.

Denials and would-denials are counted per (restriction, node, hour, effect), with a
sample of full decisions. The buffer is written to disk whole when asked (the client
does so before each report and when it stops; :mod:`brightline.files`) and read back on
start, so a restart loses nothing already persisted, and a crash or a full disk leaves
the last file written. When it is full, further records are not kept but *counted* as
dropped, and the count goes out with the next report.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brightline import files
from brightline.errors import StorageError
from brightline.policy import Decision, format_time

log = logging.getLogger("brightline.enforcement")
CountKey = tuple[str, str, str, str]  # restriction, node, hour (RFC 3339), effect


@dataclass
class PendingReport:
    report_id: str
    counts: dict[CountKey, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0

    def empty(self) -> bool:
        return not self.counts and not self.samples and not self.dropped

    def body(self, enforcement_point: str | None = None) -> dict[str, Any]:
        """The report as sent. The server records it under the principal of the key that
        sends it; ``enforcement_point``, when given, must be that name."""
        named = {} if enforcement_point is None else {"enforcement_point": enforcement_point}
        return {
            "report_id": self.report_id,
            **named,
            "counts": [
                {"restriction": r, "node": n, "hour": h, "effect": e, "count": c}
                for (r, n, h, e), c in sorted(self.counts.items())
            ],
            "samples": self.samples,
            "dropped": self.dropped,
        }


class DecisionLogBuffer:
    def __init__(
        self,
        path: Path,
        *,
        max_keys: int = 100_000,
        max_samples: int = 1_000,
        sample_every: int = 100,
    ) -> None:
        self.path = path
        self.max_keys = max_keys
        self.max_samples = max_samples
        self.sample_every = sample_every
        self._lock = threading.Lock()
        self._seen = 0
        self._pending = self._load()

    def _load(self) -> PendingReport:
        self._inflight: PendingReport | None = None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            inflight = _decode(data["inflight"]) if data.get("inflight") else None
            pending = _decode(data["pending"])
        except FileNotFoundError:
            return PendingReport(uuid.uuid4().hex)
        except OSError as exc:
            raise StorageError(self.path, files.cause(exc), verb="read") from exc
        except (ValueError, LookupError, TypeError, AttributeError) as exc:
            # Written whole, so damaged by something else (an older version, a person):
            # kept aside for whoever looks into it, not trusted, and no reason to stop.
            aside = self.path.with_name(self.path.name + ".damaged")
            log.warning(
                "setting aside the damaged decision log %s as %s: %s", self.path, aside, exc
            )
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            return PendingReport(uuid.uuid4().hex)
        self._inflight = inflight
        return pending

    def record(self, decision: Decision) -> None:
        """Count a decision that denied or would have; allows are not logged."""
        ids = [(r, "deny") for r in decision.matched] + [
            (r, "would-deny") for r in decision.would_deny
        ]
        if not ids:
            return
        request = decision.request
        hour = format_time(request.at.replace(minute=0, second=0, microsecond=0)) or ""
        with self._lock:
            pending = self._pending
            for restriction, effect in ids:
                key = (restriction, request.node, hour, effect)
                if key in pending.counts:
                    pending.counts[key] += 1
                elif len(pending.counts) < self.max_keys:
                    pending.counts[key] = 1
                else:
                    pending.dropped += 1
            self._seen += 1
            if self._seen % self.sample_every == 1:
                if len(pending.samples) < self.max_samples:
                    pending.samples.append(_sample(decision))
                else:
                    pending.dropped += 1

    def persist(self) -> None:
        """Write the buffer to disk whole; :class:`StorageError` when it cannot be (a
        full disk…), the file then being the last one written."""
        with self._lock:
            data = {
                "pending": _encode(self._pending),
                "inflight": _encode(self._inflight) if self._inflight else None,
            }
        files.write_file(self.path, json.dumps(data))

    def take(self) -> PendingReport | None:
        """The report to send: the one already in flight (a retry keeps its id and content,
        so the server counts it once), or else everything pending, which is then frozen."""
        with self._lock:
            if self._inflight is None and not self._pending.empty():
                self._inflight = self._pending
                self._pending = PendingReport(uuid.uuid4().hex)
            report = self._inflight
        if report is not None:
            self.persist()
        return report

    def sent(self, report: PendingReport) -> None:
        """The server has ``report``: forget it."""
        with self._lock:
            if self._inflight is not None and self._inflight.report_id == report.report_id:
                self._inflight = None
        self.persist()

    @property
    def dropped(self) -> int:
        return self._pending.dropped + (self._inflight.dropped if self._inflight else 0)

    def pending_count(self) -> int:
        with self._lock:
            total = sum(self._pending.counts.values())
            if self._inflight is not None:
                total += sum(self._inflight.counts.values())
            return total


def _encode(report: PendingReport) -> dict[str, Any]:
    return {
        "report_id": report.report_id,
        "counts": [[list(k), v] for k, v in report.counts.items()],
        "samples": report.samples,
        "dropped": report.dropped,
    }


def _decode(data: dict[str, Any]) -> PendingReport:
    counts: dict[CountKey, int] = {
        (str(k[0]), str(k[1]), str(k[2]), str(k[3])): int(v) for k, v in data.get("counts", [])
    }
    return PendingReport(
        str(data["report_id"]), counts, list(data.get("samples", [])), int(data.get("dropped", 0))
    )


def _sample(decision: Decision) -> dict[str, Any]:
    r = decision.request
    return {
        "node": r.node,
        "service": r.service,
        "operation": r.operation,
        "region": r.region,
        "at": format_time(r.at),
        "effect": decision.effect.value,
        "restrictions": list(decision.matched),
        "would_deny": list(decision.would_deny),
        "version": decision.version,
    }
