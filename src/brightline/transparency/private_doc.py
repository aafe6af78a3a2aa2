"""The signed document of a release's figures, and the checks anyone can run of it.

A release is published as one C2SP signed note, signed with the ledger's Ed25519 key (the
one that signs its checkpoints)::

    brightline-private-figures/1
    {"as_of":…,"budget":…,"tables":[…],…}          (canonical JSON, one line)

    — <log name> <signature>

A checkpoint's second line is its size, a decimal number; this note's is JSON, so neither
can be taken for the other although one key signs both.

:func:`check_published` is what any reader can check with the log's tiles: the signature,
that the document belongs to the report (period, time), that its release entry is in the
log and of type ``transparency.released``, that every earlier release in the log is in
its budget and the budget adds up, and that its tables are the layout's with sums that
add up. What an auditor checks given the private records is
:mod:`brightline.transparency.private_audit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Final

from brightline.errors import InvalidInputError, Problem
from brightline.ledger import (
    NoteSigner,
    NoteVerifier,
    canonical_json,
    open_note,
    sign_note,
)
from brightline.limits import load_json
from brightline.transparency.investigations import Key
from brightline.transparency.model import (
    Period,
    PublicEntry,
    PublishedCell,
    PublishedTable,
    format_time,
    parse_time,
)
from brightline.transparency.private_figures import (
    BINS,
    RELEASE_EVENT,
    PriorRelease,
    Release,
    decimal,
    exact_epsilon,
)
from brightline.transparency.private_layout import (
    Noisy,
    TableLayout,
    layout,
    noisy_figures,
    published_cells,
)

DOC_FORMAT: Final = "brightline-private-figures/1"
#: The signed note, as a file of the report's site.
NOTE_FILE: Final = "private-figures.note"


@dataclass(frozen=True, slots=True)
class PrivateTable:
    """A table of noisy figures as published, with what each figure cost."""

    name: str
    title: str
    description: str
    label: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[PublishedCell, ...]], ...]
    epsilon_per_figure: float
    noisy_figures: int
    #: Rows that add up noisy figures (no privacy loss of their own).
    derived: tuple[str, ...]

    def published(self) -> PublishedTable:
        """As the site's tables are written (JSON, CSV, HTML): no chart for noisy figures."""
        return PublishedTable(
            name=self.name,
            title=self.title,
            description=self.description,
            label=self.label,
            columns=self.columns,
            rows=self.rows,
            total=bool(self.rows) and self.rows[-1][0] == "total",
            chart_column=None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **self.published().to_json(),
            "epsilon_per_figure": self.epsilon_per_figure,
            "noisy_figures": self.noisy_figures,
            "derived": list(self.derived),
        }


@dataclass(frozen=True, slots=True)
class PrivateFigures:
    """A release's published document (see the module's docstring) and its signed note."""

    period: Period
    as_of: datetime
    release_entry: int
    inputs_log_size: int
    policies: tuple[str, ...]
    epsilon_per_figure: float
    figures: int
    release_epsilon: float
    budget_cap: float
    budget_before: float
    budget_after: float
    releases: tuple[PriorRelease, ...]
    mechanism: str
    tables: tuple[PrivateTable, ...]
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DOC_FORMAT,
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()},
            "as_of": format_time(self.as_of),
            "release_entry": self.release_entry,
            "inputs_log_size": self.inputs_log_size,
            "policies": list(self.policies),
            "epsilon_per_figure": self.epsilon_per_figure,
            "figures": self.figures,
            "release_epsilon": self.release_epsilon,
            "budget": {
                "cap": self.budget_cap,
                "before": self.budget_before,
                "after": self.budget_after,
                "releases": [{"entry": r.entry, "epsilon": r.epsilon} for r in self.releases],
            },
            "mechanism": self.mechanism,
            "bins": list(BINS),
            "tables": [t.to_json() for t in self.tables],
        }

    @classmethod
    def of(
        cls, release: Release, *, release_entry: int, releases: Sequence[PriorRelease]
    ) -> PrivateFigures:
        """The document of ``release``, logged as entry ``release_entry``, after the earlier
        ``releases`` (each with its entry); not yet signed."""
        tables = layout(release.policies)
        values = {d.key: d.published for d in release.drawings}
        cells = published_cells(tables, values)
        budget = release.budget
        return cls(
            period=release.period,
            as_of=release.as_of,
            release_entry=release_entry,
            inputs_log_size=release.inputs_log_size,
            policies=release.policies,
            epsilon_per_figure=release.per_figure,
            figures=len(release.drawings),
            release_epsilon=budget.this_release,
            budget_cap=budget.cap,
            budget_before=float(budget.before),
            budget_after=float(budget.after),
            releases=tuple(releases),
            mechanism=release.mechanism,
            tables=tuple(
                _private_table(t, rows, release.per_figure)
                for t, rows in zip(tables, cells, strict=True)
            ),
        )

    def signed(self, signer: NoteSigner) -> PrivateFigures:
        text = f"{DOC_FORMAT}\n{canonical_json(self.to_json()).decode()}\n"
        return _replace_note(self, sign_note(text, signer))

    @classmethod
    def open(cls, note: str, verifier: NoteVerifier) -> PrivateFigures:
        """Check the note's signature by ``verifier`` (LedgerIntegrityError if it is not
        the log's) and parse it (InvalidInputError naming what is not as written)."""
        text = open_note(note, verifier)
        head, _, body = text.partition("\n")
        if head != DOC_FORMAT or body.count("\n") != 1:
            raise InvalidInputError(Problem(NOTE_FILE, f"is not a {DOC_FORMAT} document"))
        try:
            value = load_json(body, where=NOTE_FILE, object_pairs_hook=_no_duplicates)
        except ValueError as exc:
            raise InvalidInputError(Problem(NOTE_FILE, f"is not JSON: {exc}")) from exc
        figures = _replace_note(_from_json(value), note)
        if canonical_json(figures.to_json()).decode() != body.rstrip("\n"):
            raise InvalidInputError(
                Problem(NOTE_FILE, "holds fields or values other than a document's")
            )
        return figures


def _replace_note(figures: PrivateFigures, note: str) -> PrivateFigures:
    return replace(figures, note=note)


def _private_table(
    table: TableLayout,
    rows: tuple[tuple[str, tuple[int | float | None, ...]], ...],
    per_figure: float,
) -> PrivateTable:
    return PrivateTable(
        name=table.name,
        title=table.title,
        description=table.description,
        label=table.label,
        columns=table.columns,
        rows=rows,
        epsilon_per_figure=per_figure,
        noisy_figures=len(noisy_figures([table])),
        derived=table.derived,
    )


def _no_duplicates(items: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in items]
    if len(set(keys)) != len(keys):
        raise ValueError("a key is repeated")
    return dict(items)


def _from_json(value: Any) -> PrivateFigures:
    try:
        budget = value["budget"]
        period = value["period"]
        return PrivateFigures(
            period=Period(date.fromisoformat(period["from"]), date.fromisoformat(period["to"])),
            as_of=parse_time(value["as_of"]),
            release_entry=_whole(value["release_entry"]),
            inputs_log_size=_whole(value["inputs_log_size"]),
            policies=tuple(_text(p) for p in value["policies"]),
            epsilon_per_figure=_number(value["epsilon_per_figure"]),
            figures=_whole(value["figures"]),
            release_epsilon=_number(value["release_epsilon"]),
            budget_cap=_number(budget["cap"]),
            budget_before=_number(budget["before"]),
            budget_after=_number(budget["after"]),
            releases=tuple(
                PriorRelease(_whole(r["entry"]), _number(r["epsilon"])) for r in budget["releases"]
            ),
            mechanism=_text(value["mechanism"]),
            tables=tuple(_table(t) for t in value["tables"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInputError(
            Problem(NOTE_FILE, f"is not a document as written: {exc!r}")
        ) from exc


def _table(value: Any) -> PrivateTable:
    return PrivateTable(
        name=_text(value["name"]),
        title=_text(value["title"]),
        description=_text(value["description"]),
        label=_text(value["label"]),
        columns=tuple(_text(c) for c in value["columns"]),
        rows=tuple(
            (_text(r["label"]), tuple(_cell(v) for v in r["values"])) for r in value["rows"]
        ),
        epsilon_per_figure=_number(value["epsilon_per_figure"]),
        noisy_figures=_whole(value["noisy_figures"]),
        derived=tuple(_text(d) for d in value["derived"]),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not a whole number")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number")
    return float(value)


def _cell(value: Any) -> PublishedCell:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise TypeError(f"{value!r} is not a figure")


# -- what anyone can check --------------------------------------------------------------------


def check_published(
    figures: PrivateFigures,
    *,
    period: Period,
    as_of: datetime,
    entries: Sequence[PublicEntry],
    checkpoint_size: int,
) -> list[str]:
    """Problems with a signed document (already opened with the log's key) read against
    the report's period and time and the public entries under its checkpoint."""
    where = NOTE_FILE
    problems: list[str] = []
    if figures.period != period or figures.as_of != as_of:
        problems.append(f"{where}: its period or time is not the report's")
    index = figures.release_entry
    if not 0 <= index < checkpoint_size or entries[index].event_type != RELEASE_EVENT:
        problems.append(
            f"{where}: entry {index} under the report's checkpoint is not a {RELEASE_EVENT} "
            "entry: the release is not in the log"
        )
        return problems
    if figures.inputs_log_size != index:
        # Every investigation entry before the release is an input: a release that
        # stopped earlier could leave out events it did not like.
        problems.append(
            f"{where}: its figures count the entries below {figures.inputs_log_size}, not "
            f"every entry before its release entry {index}"
        )
    logged = [e.index for e in entries[:index] if e.event_type == RELEASE_EVENT]
    listed = [r.entry for r in figures.releases]
    if listed != logged:
        missing = sorted(set(logged) - {e for e in listed if e is not None})
        problems.append(
            f"{where}: the budget lists releases {listed} but the log has {logged} before entry "
            f"{index}" + (f": release entry {missing[0]} is left out" if missing else "")
        )
    problems += _budget_problems(figures)
    problems += _table_problems(figures)
    return problems


def _budget_problems(figures: PrivateFigures) -> list[str]:
    where = f"{NOTE_FILE}: budget"
    before = sum((exact_epsilon(r.epsilon) for r in figures.releases), exact_epsilon(0))
    cost = exact_epsilon(figures.epsilon_per_figure) * figures.figures
    after = before + exact_epsilon(figures.release_epsilon)
    problems = []
    if exact_epsilon(figures.release_epsilon) != cost:
        problems.append(
            f"{where}: this release's ε {decimal(figures.release_epsilon)} is not "
            f"{figures.figures} figures × ε {decimal(figures.epsilon_per_figure)}"
        )
    if exact_epsilon(figures.budget_before) != before:
        problems.append(
            f"{where}: ε spent before is stated {decimal(figures.budget_before)}, the earlier "
            f"releases listed add up to {decimal(before)}"
        )
    if exact_epsilon(figures.budget_after) != after:
        problems.append(f"{where}: the cumulative ε stated is not before + this release")
    if after > exact_epsilon(figures.budget_cap):
        problems.append(f"{where}: the cumulative ε {decimal(after)} is over the cap stated")
    return problems


def _table_problems(figures: PrivateFigures) -> list[str]:
    expected = layout(figures.policies)
    problems = []
    if figures.figures != len(noisy_figures(expected)):
        problems.append(f"{NOTE_FILE}: it counts {figures.figures} figures, the layout has more")
    if len(figures.tables) != len(expected):
        return [*problems, f"{NOTE_FILE}: it has {len(figures.tables)} tables, not {len(expected)}"]
    values: dict[Key, int | float | None] = {}
    for table, want in zip(figures.tables, expected, strict=True):
        labels = tuple(label for label, _ in table.rows)
        shape = (table.name, table.title, table.description, table.label, table.columns)
        if shape != (want.name, want.title, want.description, want.label, want.columns) or (
            labels != tuple(label for label, _ in want.rows)
        ):
            problems.append(f"{NOTE_FILE}: table {table.name!r} is not laid out as the code does")
            continue
        if table.epsilon_per_figure != figures.epsilon_per_figure or table.derived != want.derived:
            problems.append(f"{NOTE_FILE}: table {table.name!r} states another ε or derived rows")
        for (_, cells), (_, specs) in zip(table.rows, want.rows, strict=True):
            for cell, spec in zip(cells, specs, strict=True):
                if isinstance(spec, Noisy):
                    values[spec.key] = cell if not isinstance(cell, str) else None
    for table, rows in zip(figures.tables, published_cells(expected, values), strict=True):
        if table.rows != rows:
            problems.append(f"{NOTE_FILE}: a sum in table {table.name!r} does not add up")
    return problems
