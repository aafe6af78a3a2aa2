"""ISO 3166-1 alpha-2 country codes by UN M49 continental region.

The regions are the five of the United Nations Statistics Division's "Standard country
or area codes for statistical use" (M49): Africa (002), Americas (019), Asia (142),
Europe (150) and Oceania (009). Every officially assigned alpha-2 code is listed but
``AQ`` (Antarctica, which M49 places in no region) and ``TW``, which M49 does not list
separately and which is placed with Eastern Asia here. A code not listed (a user-assigned
code such as ``XK`` or an example's fictional ``XF``) has no region: callers map it to
``other``.

Pure data: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["REGIONS", "region_of"]

_BY_REGION: Final = {
    "Africa": (
        # Northern Africa
        "DZ EG EH LY MA SD TN "
        # Eastern Africa
        "BI DJ ER ET IO KE KM MG MU MW MZ RE RW SC SO SS TF TZ UG YT ZM ZW "
        # Middle Africa
        "AO CD CF CG CM GA GQ ST TD "
        # Southern Africa
        "BW LS NA SZ ZA "
        # Western Africa
        "BF BJ CI CV GH GM GN GW LR ML MR NE NG SH SL SN TG"
    ),
    "Americas": (
        # Caribbean
        "AG AI AW BB BL BQ BS CU CW DM DO GD GP HT JM KN KY LC MF MQ MS PR SX TC TT VC VG VI "
        # Central America
        "BZ CR GT HN MX NI PA SV "
        # South America
        "AR BO BR BV CL CO EC FK GF GS GY PE PY SR UY VE "
        # Northern America
        "BM CA GL PM US"
    ),
    "Asia": (
        # Central Asia
        "KG KZ TJ TM UZ "
        # Eastern Asia
        "CN HK JP KP KR MN MO TW "
        # South-eastern Asia
        "BN ID KH LA MM MY PH SG TH TL VN "
        # Southern Asia
        "AF BD BT IN IR LK MV NP PK "
        # Western Asia
        "AE AM AZ BH CY GE IL IQ JO KW LB OM PS QA SA SY TR YE"
    ),
    "Europe": (
        # Eastern Europe
        "BG BY CZ HU MD PL RO RU SK UA "
        # Northern Europe
        "AX DK EE FI FO GB GG IE IM IS JE LT LV NO SE SJ "
        # Southern Europe
        "AD AL BA ES GI GR HR IT ME MK MT PT RS SI SM VA "
        # Western Europe
        "AT BE CH DE FR LI LU MC NL"
    ),
    "Oceania": (
        # Australia and New Zealand
        "AU CC CX HM NF NZ "
        # Melanesia
        "FJ NC PG SB VU "
        # Micronesia
        "FM GU KI MH MP NR PW UM "
        # Polynesia
        "AS CK NU PF PN TK TO TV WF WS"
    ),
}

#: Alpha-2 code → continental region.
REGIONS: Final[Mapping[str, str]] = MappingProxyType(
    {code: region for region, codes in _BY_REGION.items() for code in codes.split()}
)


def region_of(code: str) -> str | None:
    """The M49 continental region of an alpha-2 code (upper case), or None if unlisted."""
    return REGIONS.get(code)
