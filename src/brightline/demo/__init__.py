"""``brightline demo``: the whole story — detection, reports, a case, review, an impact
plan, four-eyes approval, enforcement in process and over HTTP, the ledger, an appeal —
run over a synthetic provider with the real components.

Orchestration only, as in ``brightline.service``: every step calls the service layer.
"""

from brightline.demo.calls import CALLS, Call, Decided
from brightline.demo.live import PEOPLE, Credential, LiveServer, Person
from brightline.demo.state import (
    DEFAULT_SCALE,
    RESTRICTION,
    RESTRICTION_ID,
    Demo,
    DemoOptions,
    Progress,
)
from brightline.demo.story import STEPS, Step, finished_case

__all__ = [
    "CALLS",
    "DEFAULT_SCALE",
    "PEOPLE",
    "RESTRICTION",
    "RESTRICTION_ID",
    "STEPS",
    "Call",
    "Credential",
    "Decided",
    "Demo",
    "DemoOptions",
    "LiveServer",
    "Person",
    "Progress",
    "Step",
    "finished_case",
]
