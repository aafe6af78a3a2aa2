"""The vocabulary of metering units: a row's ``unit`` must be one of these.

A closed vocabulary keeps the ``unit`` column a name rather than a place for text. The
catalog declares the units its services are metered in (``units:`` for every service, a
service's ``units:`` for it alone); on top of those every row may carry the common FOCUS
units (``ConsumedUnit``/``PricingUnit`` as the providers ship them: counts, time, data
size and their products, in the spellings the big providers use). A service map may
declare more for every service (``units:``), and maps its rules' units onto any of them.

A catalog that declares no unit at all (one written before catalogs could) gets
Brightline's own units, those the rule packs select, for every service instead.
"""

from __future__ import annotations

from typing import Final

from brightline.world import Catalog


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

#: The units every row may carry, whatever the catalog declares (a service map may add
#: more).
DEFAULT_UNITS: Final = FOCUS_UNITS


def units_by_service(catalog: Catalog) -> dict[str, frozenset[str]]:
    """The units the catalog allows each service besides the common ones: those it
    declares for every service and for that one, or Brightline's own units for every
    service when it declares none at all."""
    if not catalog.declares_units:
        return dict.fromkeys(catalog.services, BRIGHTLINE_UNITS)
    return {service: frozenset(catalog.units_of(service)) for service in catalog.services}
