"""The ``--witness`` and ``--witness-quorum`` options of the verify commands."""

from __future__ import annotations

from typing import Annotated

import typer

WitnessKeys = Annotated[
    list[str] | None,
    typer.Option(
        "--witness",
        help="A witness's verifier key (or a file holding it) whose cosignature the "
        "checkpoint must carry; repeat for each witness.",
    ),
]
WitnessQuorumOption = Annotated[
    int | None,
    typer.Option(
        "--witness-quorum",
        min=1,
        help="How many of the --witness keys must have cosigned (default: all).",
    ),
]
