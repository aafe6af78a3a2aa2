"""The vocabulary of metering units: a row's ``unit`` must be one of these.

A closed vocabulary keeps the ``unit`` column a name rather than a place for text. It
holds Brightline's own units (those the rule packs select), the units of the FOCUS unit
format (``ConsumedUnit``/``PricingUnit`` as the providers ship them: counts, time, data
size and their products) and the spellings the big providers use in their FOCUS exports.
A service map may declare more (``units:``), and maps its rules' units onto any of them.
"""

from __future__ import annotations

from typing import Final


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Brightline's own units, used by the built-in rule packs.
BRIGHTLINE_UNITS: Final = frozenset(
    {
        "audio-minute",
        "audio-hour",
        "characters",
        "requests",
        "GB-month",
        "GB",
        "tokens",
        "images",
        "vm-hour",
    }
)

_COUNTS: Final = _words(
    "Count Unit Units Request Requests Token Tokens Connection Connections Certificate "
    "Certificates Domain Domains Core Cores Character Characters Transaction Transactions "
    "Image Images Page Pages Query Queries Message Messages Event Events Call Calls "
    "Operation Operations Instance Instances Node Nodes"
)
_TIME: Final = _words(
    "Second Seconds Minute Minutes Hour Hours Day Days Week Weeks Month Months Year Years "
    "Hrs Hr Mo Mos"
)
_SIZES: Final = _words("b B Kb KB Mb MB Gb GB Tb TB Pb PB KiB MiB GiB TiB PiB Bytes Byte")
_RESOURCES: Final = _words("vCPU vCPUs CPU DTU DTUs")


def _products() -> frozenset[str]:
    """``GB-Hours``, ``GB-Mo``, ``vCPU-Hours``, ``Requests/Second``… as FOCUS writes
    products and rates of a unit and a time."""
    out: set[str] = set()
    for base in (*_SIZES, *_RESOURCES, "Instance", "Node", "Core", "Cores"):
        for time in _TIME:
            out.add(f"{base}-{time}")
    for base in (*_SIZES, *_COUNTS):
        for time in ("Second", "Minute", "Hour", "Day", "Month"):
            out.add(f"{base}/{time}")
    return frozenset(out)


#: Units as the FOCUS unit format and the providers' FOCUS exports write them.
FOCUS_UNITS: Final = (
    frozenset(
        {
            *_COUNTS,
            *_TIME,
            *_SIZES,
            *_RESOURCES,
            "1K Characters",
            "1M Characters",
            "10K",
            "1K",
            "1M",
        }
    )
    | _products()
)

#: Every unit a row may carry unless a service map declares more.
DEFAULT_UNITS: Final = BRIGHTLINE_UNITS | FOCUS_UNITS
