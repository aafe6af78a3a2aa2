"""Principals for unit tests of the lifecycle (``tests`` is on sys.path).

A principal built here holds the roles it is given, with no key and no grant behind it:
use it only where authorization is not what the test is about. Tests of who may do what
get their principals from the store's grants through ``Authenticator``
(``cases.case_scenarios.with_people``, ``service.test_access_rules``).
"""

from __future__ import annotations

from brightline.access import Principal, Role


def principal(name: str, *roles: Role) -> Principal:
    return Principal(name, frozenset(roles), credential="test")
