"""A whole report: figures made public (suppressed), the restrictions in force with their
proofs, and what they were computed from (period, time, k, checkpoint)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from brightline.errors import InvalidInputError, Problem
from brightline.generalization import TimeGranularity, floor_time
from brightline.ledger import Checkpoint, leaf_hash
from brightline.transparency.aggregate import COPIES, compute_figures
from brightline.transparency.model import (
    Figures,
    InForce,
    Period,
    PublicEntry,
    PublishedTable,
    check_fields,
    check_k,
    format_time,
    parse_time,
)
from brightline.transparency.private_doc import PrivateFigures
from brightline.transparency.series import SeriesRelease, suppress_series
from brightline.transparency.spells import TABLES, restriction_spells
from brightline.transparency.suppression import suppress_tables

FORMAT: Final = "brightline-transparency-report/3"
_WHOLE: Final = {
    TimeGranularity.DAY: "days",
    TimeGranularity.WEEK: "weeks, Monday to Sunday",
    TimeGranularity.MONTH: "months, from the 1st to the last day",
}


@dataclass(frozen=True, slots=True)
class ProvenInForce:
    """A restriction in force, the RFC 9162 leaf hash of its approving entry and that
    entry's inclusion proof in the tree of the report's checkpoint. The entry itself is in
    the log's tiles; the report shows only the fields the deployment lists."""

    item: InForce
    public_form: bytes
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.item.to_json(),
            "leaf_hash": leaf_hash(self.public_form).hex(),
            "inclusion_proof": [h.hex() for h in self.proof],
        }


@dataclass(frozen=True, slots=True)
class Parameters:
    """What a report was computed with; a verifier reads them back from ``report.json``.

    ``time_granularity`` is how precisely the log publishes times: the period must be
    whole days, weeks or months of it, so that no entry's published time is counted in a
    period its event was not in. ``series`` is the reports released before this one, as
    the store recorded them: the restriction tables are suppressed together with them
    (:mod:`~brightline.transparency.series`)."""

    period: Period
    as_of: datetime
    k: int
    fields: tuple[str, ...]
    # Keyword-only: two optional members of different types are easily swapped.
    time_granularity: TimeGranularity = field(default=TimeGranularity.DAY, kw_only=True)
    series: tuple[SeriesRelease, ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        check_k(self.k)
        check_fields(self.fields)
        if self.as_of.microsecond:
            raise InvalidInputError(Problem("as_of", "the figures hold at a whole second"))
        if not self.period.start <= self.as_of <= self.period.end:
            raise InvalidInputError(
                Problem("as_of", "the figures must hold at a time inside the period")
            )
        granule = self.time_granularity
        for where, at in (("--from", self.period.start), ("--to", self.period.end)):
            if floor_time(at, granule) != at:
                raise InvalidInputError(
                    Problem(
                        where,
                        f"the log publishes times by {granule.value}: a report's period is "
                        f"whole {_WHOLE[granule]}",
                    )
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
            "time_granularity": self.time_granularity.value,
            "series": [r.to_json() for r in self.series],
        }

    @classmethod
    def from_json(cls, value: Any) -> Parameters:
        """Raises :class:`InvalidInputError` for anything but what :meth:`to_json` writes:
        exact types, ISO dates, a time to the second in UTC, k of 1 or at least 3, fields
        listable and each once, and ``start``/``end`` those of the period."""
        if not isinstance(value, Mapping):
            raise InvalidInputError(Problem("report.json", "is not an object"))
        period_value = value.get("period")
        if not isinstance(period_value, Mapping):
            raise InvalidInputError(Problem("period", "is not an object"))
        period = Period(
            _date(period_value.get("from"), "period.from"),
            _date(period_value.get("to"), "period.to"),
        )
        for key, want in (("start", period.start), ("end", period.end)):
            if period_value.get(key) != format_time(want):
                raise InvalidInputError(
                    Problem(
                        f"period.{key}", f"is {period_value.get(key)!r}, not {format_time(want)!r}"
                    )
                )
        as_of = value.get("as_of")
        if not isinstance(as_of, str) or _time_or_none(as_of) is None:
            raise InvalidInputError(
                Problem("as_of", f"{as_of!r} is not a time like 2025-10-31T00:00:00Z")
            )
        k = value.get("k")
        if isinstance(k, bool) or not isinstance(k, int):
            raise InvalidInputError(Problem("k", f"{k!r} is not a whole number"))
        fields = value.get("fields")
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise InvalidInputError(Problem("fields", "must be a list of field names"))
        if len(set(fields)) != len(fields):
            raise InvalidInputError(Problem("fields", "lists a field twice"))
        granularity = value.get("time_granularity")
        if granularity not in tuple(TimeGranularity):
            choices = ", ".join(g.value for g in TimeGranularity)
            raise InvalidInputError(
                Problem("time_granularity", f"{granularity!r} is not one of {choices}")
            )
        series = value.get("series")
        if not isinstance(series, list):
            raise InvalidInputError(Problem("series", "must be a list of released reports"))
        return cls(
            period,
            parse_time(as_of),
            k,
            check_fields(fields),
            time_granularity=TimeGranularity(granularity),
            series=tuple(
                SeriesRelease.from_json(r, where=f"series[{n}]") for n, r in enumerate(series)
            ),
        )


def _date(value: Any, where: str) -> date:
    try:
        parsed = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.isoformat() != value:
        raise InvalidInputError(Problem(where, f"{value!r} is not a date like 2025-10-01"))
    return parsed


def _time_or_none(text: str) -> datetime | None:
    try:
        value = parse_time(text)
    except InvalidInputError:
        return None
    return value if format_time(value) == text else None


_GENERATOR: Final = re.compile(r"Brightline [0-9A-Za-z.+_-]{1,64}")
_RELATIVE_LINK: Final = re.compile(r"(\.\./)*([0-9A-Za-z._~-]+/)+")
_HTTPS_LINK: Final = re.compile(r"https://[0-9A-Za-z.-]+(:[0-9]+)?(/[0-9A-Za-z._~%/-]*)?")


@dataclass(frozen=True, slots=True)
class Stated:
    """What ``report.json`` says a report was made with, checked for form only: a verifier
    re-renders the report from these and the figures it recomputes from the log."""

    parameters: Parameters
    generator: str
    tiles: str | None
    checkpoint_note: str
    #: The checkpoint's origin, size and root as ``report.json`` states them beside the note.
    checkpoint_claim: tuple[Any, ...]

    @classmethod
    def from_manifest(cls, value: Any) -> Stated:
        """Raises :class:`InvalidInputError` naming the first thing that is not as
        :func:`~brightline.transparency.site.render_site` writes it."""
        if not isinstance(value, Mapping):
            raise InvalidInputError(Problem("report.json", "is not an object"))
        if value.get("format") != FORMAT:
            raise InvalidInputError(
                Problem("format", f"is {value.get('format')!r}, not {FORMAT!r}")
            )
        generator = value.get("generator")
        if not isinstance(generator, str) or not _GENERATOR.fullmatch(generator):
            raise InvalidInputError(
                Problem("generator", f"{generator!r} is not 'Brightline <version>'")
            )
        tiles = value.get("tiles")
        if tiles is not None and not (
            isinstance(tiles, str)
            and len(tiles) <= 500
            and (_RELATIVE_LINK.fullmatch(tiles) or _HTTPS_LINK.fullmatch(tiles))
        ):
            raise InvalidInputError(
                Problem("tiles", f"{tiles!r} is not a relative directory (…/) or an https URL")
            )
        checkpoint = value.get("checkpoint")
        if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get("note"), str):
            raise InvalidInputError(Problem("checkpoint", "no signed checkpoint note"))
        return cls(
            parameters=Parameters.from_json(value),
            generator=generator,
            tiles=tiles,
            checkpoint_note=checkpoint["note"],
            checkpoint_claim=(
                checkpoint.get("origin"),
                checkpoint.get("size"),
                checkpoint.get("root"),
            ),
        )


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
    #: Figures about investigations with differential privacy (signed), if released.
    private: PrivateFigures | None = None


def build_report(
    entries: Sequence[PublicEntry],
    *,
    parameters: Parameters,
    checkpoint_note: str,
    checkpoint: Checkpoint,
    prove: Callable[[int], tuple[bytes, ...]],
    tiles: str | None,
    generator: str,
    private: PrivateFigures | None = None,
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
        tables=_suppressed(entries[: checkpoint.size], figures, parameters),
        in_force=tuple(
            ProvenInForce(item, entries[item.entry].data, prove(item.entry))
            for item in figures.in_force
        ),
        tiles=tiles,
        generator=generator,
        private=private,
    )


def published_tables(
    entries: Iterable[PublicEntry], parameters: Parameters
) -> tuple[tuple[PublishedTable, ...], tuple[InForce, ...]]:
    """What a report computed with ``parameters`` over ``entries`` must publish."""
    entries = list(entries)
    figures = compute_figures(
        entries, period=parameters.period, as_of=parameters.as_of, fields=parameters.fields
    )
    return _suppressed(entries, figures, parameters), figures.in_force


def _suppressed(
    entries: Sequence[PublicEntry], figures: Figures, parameters: Parameters
) -> tuple[PublishedTable, ...]:
    """The restriction tables suppressed over the series (``series``), the others alone."""
    others = [t for t in figures.tables if t.name not in TABLES]
    published = {t.name: t for t in suppress_tables(others, parameters.k, copies=COPIES)}
    # Counts over a period depend on nothing logged after it ends: read up to the latest.
    latest = max([parameters.as_of, *(r.as_of for r in parameters.series)])
    restriction = suppress_series(
        restriction_spells(entries, as_of=latest),
        [t for t in figures.tables if t.name in TABLES],
        period=parameters.period,
        as_of=parameters.as_of,
        k=parameters.k,
        releases=parameters.series,
    )
    published |= {t.name: t for t in restriction}
    return tuple(published[t.name] for t in figures.tables)
