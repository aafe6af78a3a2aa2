"""The story world of ``brightline demo``: a ministry whose signals-intelligence unit uses
the provider for mass surveillance, honest look-alikes, and thousands of ordinary
subscriptions around them.

The ids follow the example world (``examples/world``), so the docs read the same:

- ``mod-freedonia``, the Ministry of Defence of Freedonia (country ``XF``): headquarters,
  a medical service and an academy, which stay untouched, and ``unit-9900``, the
  intelligence unit. From day 18 of 30 the unit ingests telecom-scale audio, transcribes
  and translates it, and archives petabytes, all in ``westeurope`` and ``northeurope``
  (two regions abroad). Its ``sub-9900-rescue`` subscription coordinates disaster
  rescue and is the restriction's exemption.
- look-alikes that a person would not restrict: ``acme-voice`` (a call-centre company:
  speech at telecom scale), ``northwind`` (a broadcaster: subtitling, speech and
  translation together), ``meteo`` (a weather agency: petabytes growing fast, at home).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from brightline.synth.world import CATALOG_YAML, Cast, Customer, add_background

STORY_CATALOG: Final = CATALOG_YAML.replace(
    "regions:\n",
    "  - {id: ingest.streams,  operations: [publish, consume],             "
    "tags: [data-ingress, messaging],\n     units: [GB]}\nregions:\n",
    1,
)
MINISTRY: Final = "mod-freedonia"
UNIT: Final = "unit-9900"
EXEMPT: Final = "sub-9900-rescue"
#: Regions abroad where the unit stores and processes what it collects.
ABROAD: Final = ("westeurope", "northeurope")
LOOK_ALIKES: Final = ("acme-voice", "northwind", "meteo")

#: (unit id, name, attrs, subscriptions as (id, name, attrs)), in the ministry's order;
#: ``brightline.synth.usage`` plants the unit's streams by these subscription ids.
_MINISTRY_UNITS: Final = (
    (
        "mod-hq",
        "Headquarters",
        {"sector": "defense"},
        (("sub-hq-mail", "HQ mail and office"), ("sub-hq-payroll", "Payroll")),
    ),
    (
        "mod-medical",
        "Military Medical Service",
        {"sector": "health"},
        (("sub-med-records", "Patient records"), ("sub-med-imaging", "Medical imaging")),
    ),
    ("mod-academy", "Defence Academy", {"sector": "education"}, (("sub-academy", "E-learning"),)),
    (
        UNIT,
        "Signals Intelligence Unit 9900",
        {"sector": "intelligence"},
        (
            ("sub-9900-ingest", "Ingest"),
            ("sub-9900-archive", "Archive"),
            ("sub-9900-transcribe", "Transcription"),
            ("sub-9900-translate", "Translation"),
            (EXEMPT, "Disaster rescue coordination"),
        ),
    ),
)
#: (customer id, name, country, sector, decoy kind of ``brightline.synth.usage``).
_LOOK_ALIKES: Final = (
    ("acme-voice", "Acme Contact Centres", "DE", "telecom", "call-centre"),
    ("northwind", "Northwind Broadcasting", "IE", "media", "broadcaster"),
    ("meteo", "Federal Weather Agency", "FR", "science", "weather-agency"),
)
#: Subscriptions the story customers hold; the rest are ordinary customers.
STORY_SUBSCRIPTIONS: Final = sum(len(u[3]) for u in _MINISTRY_UNITS) + 6 * len(_LOOK_ALIKES)


def build_story_world(subscriptions: int, rng: np.random.Generator) -> Cast:
    """The ministry and the look-alikes, then ordinary customers up to ``subscriptions``."""
    if subscriptions < STORY_SUBSCRIPTIONS:
        raise ValueError(f"the story needs at least {STORY_SUBSCRIPTIONS} subscriptions")
    cast = Cast()
    cast.lines.append(
        {
            "id": MINISTRY,
            "parent": None,
            "kind": "customer",
            "name": "Ministry of Defence of Freedonia",
            "attrs": {"country": "XF", "sector": "defense"},
        }
    )
    subs: list[str] = []
    for unit, name, attrs, members in _MINISTRY_UNITS:
        cast.lines.append(
            {"id": unit, "parent": MINISTRY, "kind": "unit", "name": name, "attrs": attrs}
        )
        for sub, sub_name in members:
            extra = {"purpose": "humanitarian"} if sub == EXEMPT else {}
            cast.lines.append(
                {
                    "id": sub,
                    "parent": unit,
                    "kind": "subscription",
                    "name": sub_name,
                    "attrs": extra,
                }
            )
            subs.append(sub)
    cast.customers.append(
        Customer(MINISTRY, "XF", "defense", tuple(subs), role="planted:intelligence-unit")
    )
    for cid, name, country, sector, kind in _LOOK_ALIKES:
        cast.lines.append(
            {
                "id": cid,
                "parent": None,
                "kind": "customer",
                "name": name,
                "attrs": {"country": country, "sector": sector},
            }
        )
        subs_of: list[str] = []
        for u in range(2):
            unit = f"{cid}-u{u}"
            cast.lines.append(
                {"id": unit, "parent": cid, "kind": "unit", "name": f"Unit {u}", "attrs": {}}
            )
            for i in range(3):
                sub = f"{cid}-s{u * 3 + i}"
                cast.lines.append(
                    {
                        "id": sub,
                        "parent": unit,
                        "kind": "subscription",
                        "name": f"Subscription {u * 3 + i}",
                        "attrs": {},
                    }
                )
                subs_of.append(sub)
        cast.customers.append(Customer(cid, country, sector, tuple(subs_of), role=f"decoy:{kind}"))
    add_background(cast, subscriptions - STORY_SUBSCRIPTIONS, rng, first_number=1)
    return cast
