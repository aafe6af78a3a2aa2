"""A whole report: figures made public (suppressed), the restrictions in force with their
proofs, and what they were computed from (period, time, k, checkpoint)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from brightline.errors import InvalidInputError, Problem
from brightline.ledger import Checkpoint
from brightline.transparency.aggregate import compute_figures
from brightline.transparency.model import (
    InForce,
    Period,
    PublicEntry,
    PublishedTable,
    check_fields,
    check_k,
    format_time,
    parse_time,
)
from brightline.transparency.suppression import suppress

FORMAT: Final = "brightline-transparency-report/1"


@dataclass(frozen=True, slots=True)
class ProvenInForce:
    """A restriction in force, its approving entry's public form, and that entry's RFC 9162
    inclusion proof in the tree of the report's checkpoint."""

    item: InForce
    public_form: bytes
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.item.to_json(),
            "public_form": self.public_form.decode(),
            "inclusion_proof": [h.hex() for h in self.proof],
        }


@dataclass(frozen=True, slots=True)
class Parameters:
    """What a report was computed with; a verifier reads them back from ``report.json``."""

    period: Period
    as_of: datetime
    k: int
    fields: tuple[str, ...]

    def __post_init__(self) -> None:
        check_k(self.k)
        check_fields(self.fields)
        if self.as_of.microsecond:
            raise InvalidInputError(Problem("as_of", "the figures hold at a whole second"))
        if not self.period.start <= self.as_of <= self.period.end:
            raise InvalidInputError(
                Problem("as_of", "the figures must hold at a time inside the period")
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "period": {
                "from": self.period.first.isoformat(),
                "to": self.period.last.isoformat(),
                "start": format_time(self.period.start),
                "end": format_time(self.period.end),
            },
            "as_of": format_time(self.as_of),
            "k": self.k,
            "fields": list(self.fields),
        }

    @classmethod
    def from_json(cls, value: Any) -> Parameters:
        """Raises :class:`InvalidInputError` for anything but what :meth:`to_json` writes."""
        try:
            period = Period(
                date.fromisoformat(str(value["period"]["from"])),
                date.fromisoformat(str(value["period"]["to"])),
            )
            k = value["k"]
            fields = value["fields"]
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise InvalidInputError(Problem("fields", "must be a list of field names"))
            return cls(period, parse_time(str(value["as_of"])), k, tuple(fields))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(Problem("report.json", f"bad parameters: {exc}")) from exc


@dataclass(frozen=True, slots=True)
class Report:
    parameters: Parameters
    checkpoint_note: str
    checkpoint: Checkpoint
    tables: tuple[PublishedTable, ...]
    in_force: tuple[ProvenInForce, ...]
    #: Where the log's tiles are, relative to the report (or a URL), if published with it.
    tiles: str | None
    generator: str


def build_report(
    entries: Sequence[PublicEntry],
    *,
    parameters: Parameters,
    checkpoint_note: str,
    checkpoint: Checkpoint,
    prove: Callable[[int], tuple[bytes, ...]],
    tiles: str | None,
    generator: str,
) -> Report:
    """Figures from the first ``checkpoint.size`` entries, suppressed with ``k``, and the
    restrictions in force, each proved with ``prove(index)`` (an inclusion proof in the
    tree of ``checkpoint.size``)."""
    if len(entries) < checkpoint.size:
        raise InvalidInputError(
            f"the checkpoint covers {checkpoint.size} entries, only {len(entries)} were given"
        )
    figures = compute_figures(
        entries[: checkpoint.size],
        period=parameters.period,
        as_of=parameters.as_of,
        fields=parameters.fields,
    )
    return Report(
        parameters=parameters,
        checkpoint_note=checkpoint_note,
        checkpoint=checkpoint,
        tables=tuple(suppress(t, parameters.k) for t in figures.tables),
        in_force=tuple(
            ProvenInForce(item, entries[item.entry].data, prove(item.entry))
            for item in figures.in_force
        ),
        tiles=tiles,
        generator=generator,
    )


def published_tables(
    entries: Iterable[PublicEntry], parameters: Parameters
) -> tuple[tuple[PublishedTable, ...], tuple[InForce, ...]]:
    """What a report computed with ``parameters`` over ``entries`` must publish."""
    figures = compute_figures(
        entries, period=parameters.period, as_of=parameters.as_of, fields=parameters.fields
    )
    return tuple(suppress(t, parameters.k) for t in figures.tables), figures.in_force
