"""The story of ``brightline demo``, as named steps over the real components.

Each step is a function ``(demo, progress) -> result`` that does its work through the
service layer (the store, DuckDB, the ledger, the HTTP API on loopback, the
enforcement-point client) and returns a small frozen result the CLI renders. The steps
run in the order of :data:`STEPS`; each relies on what the earlier ones left in
:class:`Demo`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from brightline.demo.enforce import approval, enforcement
from brightline.demo.live import AUDITOR
from brightline.demo.proof import appeal, ledger, transparency
from brightline.demo.provider import detection, people, provider
from brightline.demo.review import case, plan, reports, review
from brightline.demo.state import Demo, Progress
from brightline.service.case_export import show_case

# -- the whole story -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    title: str
    run: Callable[[Demo, Progress], object]


STEPS: Final = (
    Step("provider", "A synthetic provider and 30 days of metering", provider),
    Step("people", "People, API keys, the server and an enforcement point", people),
    Step("detection", "Detection over metering metadata", detection),
    Step("reports", "Reports from people", reports),
    Step("case", "A case is opened", case),
    Step("review", "External review: evidence and a finding", review),
    Step("plan", "The impact plan, before anything is proposed", plan),
    Step("approval", "Proposal and approval by two different people", approval),
    Step("enforcement", "Enforcement: the unit denied, everyone else working", enforcement),
    Step("ledger", "The ledger: verified, and one entry disclosed with its proof", ledger),
    Step("appeal", "An appeal", appeal),
    Step("transparency", "A transparency report anyone can verify", transparency),
)


def finished_case(demo: Demo) -> dict[str, Any]:
    """The case as the auditor sees it at the end (status, decisions, appeals)."""
    auditor = demo.principal(AUDITOR)
    return show_case(demo.store, demo.case_id, actor=auditor).to_json(history=False)


__all__ = ["STEPS", "Step", "finished_case"]
