"""Deciding many requests at once over columns, with numpy.

Input columns are ``node``, ``service``, ``operation``, ``region`` and optionally
``time``. Each name column may hold strings (a pyarrow string or dictionary array, a
numpy or Python sequence of str) or integer codes in the snapshot's own encoding
(:class:`BatchArrays` ``node_ids``, ``service_ids``, ``operation_names``,
``region_ids``). ``time`` is a pyarrow or numpy timestamp column, or int64
microseconds since the epoch; missing times take the ``at`` argument.

The result is columnar too (:class:`BatchDecisions`): an effect code per row and the
matched restriction ids as offsets into a flat array. A row that names anything
unknown gets the ``error`` effect and a message — never an allow.

How: each node's candidate restrictions are kept in CSR form; rows are expanded into
(row, candidate) pairs, and each pair is checked against packed action bitsets, a
region matrix and the time window in a few vectorized steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from brightline.errors import InvalidInputError
from brightline.policy.columns import empty_strings, from_numpy, int_values, strings

if TYPE_CHECKING:
    from brightline.policy.snapshot import Snapshot

IntArray = npt.NDArray[np.int64]
CodeArray = npt.NDArray[np.int32]

_I64_MIN: Final = np.iinfo(np.int64).min
_I64_MAX: Final = np.iinfo(np.int64).max
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
COLUMNS: Final = ("node", "service", "operation", "region")
_EFFECT_NAMES: Final = strings(["allow", "deny", "error"])
_SEPARATOR: Final = strings([";"])[0]


class BatchEffect(IntEnum):
    ALLOW = 0
    DENY = 1
    ERROR = 2


class BatchError(IntEnum):
    NONE = 0
    NODE = 1
    SERVICE = 2
    OPERATION = 3
    REGION = 4
    TIME = 5

    @property
    def field(self) -> str:
        """The request column at fault (empty for none)."""
        return "" if self is BatchError.NONE else self.name.lower()


_ERROR_TEXT: Final = {
    BatchError.NODE: "unknown node",
    BatchError.SERVICE: "unknown service",
    BatchError.OPERATION: "unknown operation",
    BatchError.REGION: "unknown region",
    BatchError.TIME: "missing or invalid time",
}


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float rounding)."""
    if value.tzinfo is None:
        raise InvalidInputError("time must carry a time zone")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True, slots=True)
class BatchArrays:
    """The snapshot in array form, for vectorized deciding. Built once per snapshot."""

    node_ids: tuple[str, ...]
    node_codes: Mapping[str, int]
    service_ids: tuple[str, ...]
    service_codes: Mapping[str, int]
    operation_names: tuple[str, ...]
    operation_codes: Mapping[str, int]
    region_ids: tuple[str, ...]
    region_codes: Mapping[str, int]
    restriction_ids: npt.NDArray[np.object_]
    cand_offsets: IntArray  # CSR: node code → slice of cand_index
    cand_index: CodeArray  # restriction indices, ascending within a node
    action_table: CodeArray  # [service, operation] → action code, or -1
    action_bits: npt.NDArray[np.uint8]  # [restriction, action // 8] packed bits
    region_match: npt.NDArray[np.bool_]  # [restriction, region]
    not_before: IntArray
    not_after: IntArray
    enforcing: npt.NDArray[np.bool_]
    #: Each name column's ids as Arrow text, in code order: a name's code is its index.
    id_arrays: Mapping[str, pa.StringArray]

    @classmethod
    def build(cls, snapshot: Snapshot) -> BatchArrays:
        world = snapshot.world
        node_ids = tuple(sorted(world.directory.nodes))
        service_ids = tuple(sorted(world.catalog.services))
        operation_names = tuple(sorted({op for _, op in snapshot.actions}))
        region_ids = tuple(sorted(world.catalog.regions))
        node_codes = {n: i for i, n in enumerate(node_ids)}
        service_codes = {s: i for i, s in enumerate(service_ids)}
        operation_codes = {o: i for i, o in enumerate(operation_names)}
        region_codes = {r: i for i, r in enumerate(region_ids)}

        counts = np.zeros(len(node_ids) + 1, dtype=np.int64)
        flat: list[int] = []
        for i, node in enumerate(node_ids):
            found = snapshot.candidates(node)
            counts[i + 1] = len(found)
            flat.extend(c.index for c in found)
        cand_offsets = np.cumsum(counts)
        cand_index = np.asarray(flat, dtype=np.int32)

        action_table = np.full((len(service_ids), len(operation_names)), -1, dtype=np.int32)
        for code, (service, operation) in enumerate(snapshot.actions):
            action_table[service_codes[service], operation_codes[operation]] = code

        action_index = {action: code for code, action in enumerate(snapshot.actions)}
        n_restrictions = len(snapshot.restrictions)
        bits = np.zeros((n_restrictions, len(snapshot.actions)), dtype=bool)
        region_match = np.zeros((n_restrictions, max(len(region_ids), 1)), dtype=bool)
        not_before = np.full(n_restrictions, _I64_MIN, dtype=np.int64)
        not_after = np.full(n_restrictions, _I64_MAX, dtype=np.int64)
        enforcing = np.zeros(n_restrictions, dtype=bool)
        catalog = world.catalog
        for i, r in enumerate(snapshot.restrictions):
            for pattern in r.actions:
                for service, operation in pattern.actions(catalog):
                    bits[i, action_index[service, operation]] = True
            if r.regions is None:
                region_match[i, :] = True
            else:
                for region in r.regions:
                    region_match[i, region_codes[region]] = True
            if r.not_before is not None:
                not_before[i] = to_micros(r.not_before)
            if r.not_after is not None:
                not_after[i] = to_micros(r.not_after)
            enforcing[i] = r.enforcing
        action_bits = np.packbits(bits, axis=1, bitorder="little")
        if action_bits.shape[1] == 0:
            action_bits = np.zeros((n_restrictions, 1), dtype=np.uint8)
        ids = np.empty(n_restrictions, dtype=object)
        ids[:] = [r.id for r in snapshot.restrictions]
        return cls(
            node_ids=node_ids,
            node_codes=node_codes,
            service_ids=service_ids,
            service_codes=service_codes,
            operation_names=operation_names,
            operation_codes=operation_codes,
            region_ids=region_ids,
            region_codes=region_codes,
            restriction_ids=ids,
            cand_offsets=cand_offsets,
            cand_index=cand_index,
            action_table=action_table,
            action_bits=action_bits,
            region_match=region_match,
            not_before=not_before,
            not_after=not_after,
            enforcing=enforcing,
            id_arrays={
                "node": strings(node_ids),
                "service": strings(service_ids),
                "operation": strings(operation_names),
                "region": strings(region_ids),
            },
        )

    def encode(self, name: str, column: Any) -> CodeArray:
        """Codes for a name column (strings or codes); unknown or missing → -1."""
        return _encode(column, self.id_arrays[name])


@dataclass(frozen=True, slots=True)
class BatchDecisions:
    """Decisions in columns. Row ``i`` matched ``restriction_ids[matched[
    matched_offsets[i]:matched_offsets[i+1]]]``; likewise for ``would_deny``. A row
    denied without a match was denied for ``reason`` (an enforcement point failing
    closed: its bundle is stale)."""

    effect: npt.NDArray[np.int8]
    error: npt.NDArray[np.uint8]
    matched_offsets: IntArray
    matched: CodeArray
    would_deny_offsets: IntArray
    would_deny: CodeArray
    restriction_ids: npt.NDArray[np.object_]
    error_messages: Mapping[int, str]
    version: str
    reason: str | None = None

    def __len__(self) -> int:
        return len(self.effect)

    def effects(self) -> list[str]:
        names = np.array(["allow", "deny", "error"], dtype=object)
        return list(names[self.effect])

    def matched_ids(self, row: int) -> tuple[str, ...]:
        lo, hi = self.matched_offsets[row], self.matched_offsets[row + 1]
        return tuple(self.restriction_ids[self.matched[lo:hi]])

    def would_deny_ids(self, row: int) -> tuple[str, ...]:
        lo, hi = self.would_deny_offsets[row], self.would_deny_offsets[row + 1]
        return tuple(self.restriction_ids[self.would_deny[lo:hi]])

    def error_message(self, row: int) -> str | None:
        if self.error[row] == BatchError.NONE:
            return None
        return self.error_messages.get(row, _ERROR_TEXT[BatchError(int(self.error[row]))])

    def to_arrow(self) -> pa.Table:
        """Columns decision, restrictions and would_deny (ids joined by ";"), error."""
        decision = pa.DictionaryArray.from_arrays(
            from_numpy(self.effect, pa.int8()), _EFFECT_NAMES
        ).cast(pa.string())
        return pa.table(
            {
                "decision": decision,
                "restrictions": self._joined(self.matched_offsets, self.matched),
                "would_deny": self._joined(self.would_deny_offsets, self.would_deny),
                "error": self._errors(),
            }
        )

    def _errors(self) -> pa.Array:
        rows = np.flatnonzero(self.error).tolist()
        if not rows:
            return pa.nulls(len(self), pa.string())
        messages = [self.error_message(row) or "" for row in rows]
        # Distinct messages are few: each row points at one, rows without an error at none.
        texts = list(dict.fromkeys(messages))
        index = {text: i for i, text in enumerate(texts)}
        codes = np.zeros(len(self), dtype=np.int32)
        codes[rows] = [index[m] for m in messages]
        present = np.zeros(len(self), dtype=bool)
        present[rows] = True
        validity = pa.py_buffer(np.packbits(present, bitorder="little"))
        indices = pa.Array.from_buffers(pa.int32(), len(self), [validity, pa.py_buffer(codes)])
        return pa.DictionaryArray.from_arrays(indices, strings(texts)).cast(pa.string())

    def _joined(self, offsets: IntArray, codes: CodeArray) -> pa.Array:
        if not len(codes):  # no row matched: every row's list is empty
            return empty_strings(len(self))
        ids = strings(list(self.restriction_ids)).take(from_numpy(codes, pa.int32()))
        lists = pa.ListArray.from_arrays(from_numpy(offsets.astype(np.int32), pa.int32()), ids)
        return pc.binary_join(lists, _SEPARATOR)


def decide_batch(snapshot: Snapshot, columns: Any, *, at: datetime | None = None) -> BatchDecisions:
    arrays: BatchArrays = snapshot.batch_arrays
    data = _columns(columns)
    missing = [c for c in COLUMNS if c not in data]
    if missing:
        raise InvalidInputError(f"missing request columns: {', '.join(missing)}")
    node = arrays.encode("node", data["node"])
    service = arrays.encode("service", data["service"])
    operation = arrays.encode("operation", data["operation"])
    region = arrays.encode("region", data["region"])
    n = len(node)
    if not all(len(c) == n for c in (service, operation, region)):
        raise InvalidInputError("request columns differ in length")
    times = _times(data.get("time"), n, at)

    error = np.zeros(n, dtype=np.uint8)
    action = np.full(n, -1, dtype=np.int32)
    known_service = service >= 0
    known_both = known_service & (operation >= 0)
    action[known_both] = arrays.action_table[service[known_both], operation[known_both]]
    # The first problem of a row wins, in this order: node, service, operation, region, time.
    for code, bad in (
        (BatchError.TIME, times == _I64_MIN),
        (BatchError.REGION, region < 0),
        (BatchError.OPERATION, action < 0),
        (BatchError.SERVICE, ~known_service),
        (BatchError.NODE, node < 0),
    ):
        error[bad] = code
    valid = error == 0

    safe_node = np.where(valid, node, 0)
    start = arrays.cand_offsets[safe_node]
    count = arrays.cand_offsets[safe_node + 1] - start
    count[~valid] = 0
    effect = np.where(valid, np.int8(BatchEffect.ALLOW), np.int8(BatchEffect.ERROR)).astype(np.int8)
    empty = np.zeros(0, dtype=np.int32)
    zeros = np.zeros(n + 1, dtype=np.int64)
    matched, matched_offsets, would, would_offsets = empty, zeros, empty, zeros

    rows = np.flatnonzero(count)
    if rows.size:
        per_row = count[rows]
        pair_row = np.repeat(rows, per_row)
        firsts = np.cumsum(per_row) - per_row
        position = (
            np.arange(len(pair_row), dtype=np.int64)
            - np.repeat(firsts, per_row)
            + np.repeat(start[rows], per_row)
        )
        pair_r = arrays.cand_index[position]
        pair_action = action[pair_row]
        hit = (
            (arrays.action_bits[pair_r, pair_action >> 3] >> (pair_action & 7).astype(np.uint8)) & 1
        ).astype(bool)
        hit &= arrays.region_match[pair_r, region[pair_row]]
        pair_time = times[pair_row]
        hit &= (arrays.not_before[pair_r] <= pair_time) & (pair_time < arrays.not_after[pair_r])
        hit_row, hit_r = pair_row[hit], pair_r[hit]
        enforcing = arrays.enforcing[hit_r]
        deny_rows, matched = hit_row[enforcing], hit_r[enforcing].astype(np.int32)
        would_rows, would = hit_row[~enforcing], hit_r[~enforcing].astype(np.int32)
        effect[deny_rows] = BatchEffect.DENY
        matched_offsets = _offsets(deny_rows, n)
        would_offsets = _offsets(would_rows, n)

    return BatchDecisions(
        effect=effect,
        error=error,
        matched_offsets=matched_offsets,
        matched=matched,
        would_deny_offsets=would_offsets,
        would_deny=would,
        restriction_ids=arrays.restriction_ids,
        error_messages=_error_messages(error, data),
        version=snapshot.version,
    )


def _offsets(rows: IntArray, n: int) -> IntArray:
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    return offsets


def _columns(columns: Any) -> dict[str, Any]:
    if isinstance(columns, pa.Table | pa.RecordBatch):
        return {name: columns.column(name) for name in columns.column_names}
    if isinstance(columns, Mapping):
        return dict(columns)
    raise InvalidInputError("requests must be a pyarrow Table/RecordBatch or a mapping of columns")


def _encode(column: Any, ids: pa.StringArray) -> CodeArray:
    """Codes of a column of names (text or dictionary-encoded text): each name's index in
    ``ids`` (the engine's sorted ids), found by pyarrow's hash lookup, or -1. A column of
    integers is taken as codes already."""
    if isinstance(column, np.ndarray) and np.issubdtype(column.dtype, np.integer):
        codes = column.astype(np.int32, copy=False)
        return np.where((codes >= 0) & (codes < len(ids)), codes, -1).astype(np.int32)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not isinstance(column, pa.Array):
        column = pa.array(list(column) if not isinstance(column, np.ndarray) else column.tolist())
    if pa.types.is_integer(column.type):
        return _encode(int_values(column, null=-1), ids)
    if pa.types.is_null(column.type):
        return np.full(len(column), -1, dtype=np.int32)
    if pa.types.is_dictionary(column.type):
        # The few distinct names are looked up, and each row takes its name's code.
        lookup = _encode(column.dictionary, ids)
        indices = int_values(column.indices, null=-1)
        if not len(lookup):
            return np.full(len(indices), -1, dtype=np.int32)
        codes = lookup[np.maximum(indices, 0)]
        codes[indices < 0] = -1
        return codes
    if pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    if not pa.types.is_string(column.type):
        raise InvalidInputError(f"expected strings or integer codes, got {column.type}")
    found = pc.index_in(column, options=pc.SetLookupOptions(ids))
    return int_values(found, null=-1).astype(np.int32)


def _times(column: Any, n: int, at: datetime | None) -> IntArray:
    default = to_micros(at) if at is not None else _I64_MIN
    if column is None:
        return np.full(n, default, dtype=np.int64)
    if isinstance(column, np.ndarray):
        if np.issubdtype(column.dtype, np.datetime64):
            values = column.astype("datetime64[us]").astype(np.int64)
            return np.where(np.isnat(column), default, values)
        if np.issubdtype(column.dtype, np.integer):
            return column.astype(np.int64)
        column = pa.array(column.tolist())
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not isinstance(column, pa.Array):
        column = pa.array(list(column))
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            raise InvalidInputError("time column must be timezone-aware (UTC)")
        column = column.cast(pa.timestamp("us", tz="UTC"))
    elif pa.types.is_null(column.type):
        return np.full(n, default, dtype=np.int64)
    elif not pa.types.is_integer(column.type):
        raise InvalidInputError(f"time column must hold timestamps, got {column.type}")
    return int_values(column, null=default)


def _error_messages(error: npt.NDArray[np.uint8], data: Mapping[str, Any]) -> dict[int, str]:
    rows = np.flatnonzero(error)
    if not rows.size:
        return {}
    out: dict[int, str] = {}
    for row in rows[:100_000].tolist():
        code = BatchError(int(error[row]))
        if code is BatchError.TIME:
            out[row] = _ERROR_TEXT[code]
            continue
        field = code.field
        value = _value(data[field], row)
        if code is BatchError.OPERATION:
            service = _value(data["service"], row)
            out[row] = f"unknown operation {value!r} for service {service!r}"
        else:
            out[row] = f"{_ERROR_TEXT[code]} {value!r}" if value is not None else f"missing {field}"
    return out


def _value(column: Any, row: int) -> Any:
    if isinstance(column, pa.ChunkedArray | pa.Array):
        return column[row].as_py()
    if isinstance(column, Sequence | np.ndarray):
        item = column[row]
        return item.item() if isinstance(item, np.generic) else item
    return None
