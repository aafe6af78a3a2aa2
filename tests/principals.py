"""Principals for unit tests of the lifecycle (``tests`` is on sys.path).

A principal built here holds the roles it is given, with no key and no grant behind it:
use it only where authorization is not what the test is about. Tests of who may do what
get their principals from the store's grants through ``Authenticator``
(``cases.case_scenarios.with_people``, ``service.test_access_rules``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from brightline.access import Principal, Role
from brightline.config import Settings


def principal(name: str, *roles: Role) -> Principal:
    return Principal(name, frozenset(roles), credential="test")


#: Settings for approvals in tests without metering data: the blast-radius guard computes a
#: plan from an empty telemetry directory (so only the subscription limit can trip).
NO_TELEMETRY = Settings(data_dir=Path(tempfile.gettempdir()) / "brightline-tests-no-telemetry")
