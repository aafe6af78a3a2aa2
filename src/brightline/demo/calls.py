"""The concrete API calls the demo decides before and after the restriction, three ways:
in process from the store's snapshot, by the enforcement-point client from its signed
bundle, and by the HTTP decision API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import httpx

from brightline.enforcement import Client
from brightline.errors import BrightlineError
from brightline.policy import Request
from brightline.service import compile_snapshot_at
from brightline.store import Store


@dataclass(frozen=True, slots=True)
class Call:
    who: str
    node: str
    service: str
    operation: str
    region: str
    #: What the story expects once the restriction is in force.
    expected: str

    def request(self, at: datetime) -> Request:
        return Request(self.node, self.service, self.operation, self.region, at)

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


CALLS: Final = (
    Call("unit 9900 · archive", "sub-9900-archive", "storage.blob", "write", "westeurope", "deny"),
    Call("unit 9900 · archive", "sub-9900-archive", "storage.blob", "read", "northeurope", "deny"),
    Call("unit 9900 · transcription", "sub-9900-transcribe", "ai.speech", "transcribe",
         "westeurope", "deny"),
    Call("unit 9900 · translation", "sub-9900-translate", "ai.translator", "translate",
         "northeurope", "deny"),
    Call("unit 9900 · transcription at home", "sub-9900-transcribe", "ai.speech", "transcribe",
         "freedonia-central", "allow"),
    Call("unit 9900 · rescue (exempt)", "sub-9900-rescue", "storage.blob", "write", "westeurope",
         "allow"),
    Call("ministry HQ · mail", "sub-hq-mail", "storage.blob", "write", "westeurope", "allow"),
    Call("ministry medical · records", "sub-med-records", "storage.files", "write",
         "northeurope", "allow"),
    Call("ministry medical · imaging AI", "sub-med-imaging", "ai.vision", "analyze",
         "westeurope", "allow"),
    Call("call centre · transcription", "acme-voice-s0", "ai.speech", "transcribe",
         "germanywestcentral", "allow"),
    Call("broadcaster · subtitles", "northwind-s3", "ai.translator", "translate", "northeurope",
         "allow"),
    Call("weather agency · model archive", "meteo-s0", "storage.blob", "write", "francecentral",
         "allow"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Decided:
    """One call decided by each way: effects ``allow``/``deny``, the in-process
    decision's restrictions and explanation."""

    call: Call
    in_process: str
    client: str
    http: str
    restrictions: tuple[str, ...]
    explanation: str

    @property
    def agree(self) -> bool:
        return self.in_process == self.client == self.http


def decide_calls(
    store: Store,
    client: Client,
    http: httpx.Client,
    at: datetime,
    calls: Sequence[Call] = CALLS,
) -> list[Decided]:
    snapshot = compile_snapshot_at(store, at).snapshot
    body = {
        "requests": [
            {
                "node": c.node,
                "service": c.service,
                "operation": c.operation,
                "region": c.region,
                "time": at.isoformat(),
            }
            for c in calls
        ]
    }
    response = http.post("/v1/decisions/batch", json=body)
    if response.status_code != 200:
        raise BrightlineError(f"the decision API answered {response.status_code}: {response.text}")
    answers = response.json()["decisions"]
    decided = []
    for call, answer in zip(calls, answers, strict=True):
        here = snapshot.decide(call.request(at))
        decided.append(
            Decided(
                call=call,
                in_process=here.effect.value,
                client=client.decide(call.request(at)).effect.value,
                http=str(answer["effect"]),
                restrictions=here.matched,
                explanation=here.explain(),
            )
        )
    return decided
