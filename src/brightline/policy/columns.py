"""Arrow columns to NumPy and back through their buffers.

pyarrow's own conversions (``to_numpy``, ``pa.array``, ``pa.scalar``, a Python value in
a compute call) go through its pandas bridge, which imports pandas, when it is
installed, the first time: a third of a second or more, longer than deciding a million
requests. The batch engine and the request files cross over here instead, and never
load pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa


def valid(array: pa.Array) -> npt.NDArray[np.bool_]:
    """True where ``array`` holds a value, False where it holds null."""
    if array.null_count == 0:
        return np.ones(len(array), dtype=bool)
    bitmap = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    bits = np.unpackbits(bitmap, count=array.offset + len(array), bitorder="little")
    return bits[array.offset :].astype(bool)


def int_values(array: pa.Array, *, null: int) -> npt.NDArray[np.int64]:
    """An integer (or timestamp) column as int64, with ``null`` where it holds null."""
    if not (pa.types.is_signed_integer(array.type) or pa.types.is_timestamp(array.type)):
        array = array.cast(pa.int64())
    width = array.type.bit_width // 8
    values = np.frombuffer(
        array.buffers()[1], dtype=f"<i{width}", count=len(array), offset=array.offset * width
    ).astype(np.int64)
    if array.null_count:
        values[~valid(array)] = null
    return values


def from_numpy(values: npt.NDArray[Any], kind: pa.DataType) -> pa.Array:
    """A null-free primitive array of ``kind`` (whose width ``values`` has), sharing its memory."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def strings(
    values: Sequence[str], *, present: npt.NDArray[np.bool_] | None = None
) -> pa.StringArray:
    """A string array of ``values``; where ``present`` is False, null (its value unused)."""
    data = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(item) for item in data], out=offsets[1:])
    validity = None
    if present is not None and not present.all():
        validity = pa.py_buffer(np.packbits(present, bitorder="little"))
    array = pa.Array.from_buffers(
        pa.string(), len(data), [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    )
    assert isinstance(array, pa.StringArray)
    return array


def empty_strings(count: int) -> pa.StringArray:
    """``count`` empty strings."""
    offsets = pa.py_buffer(np.zeros(count + 1, dtype=np.int32))
    array = pa.Array.from_buffers(pa.string(), count, [None, offsets, pa.py_buffer(b"")])
    assert isinstance(array, pa.StringArray)
    return array
