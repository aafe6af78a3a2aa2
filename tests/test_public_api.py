"""Each package re-exports a small public surface in ``__all__`` (as httpx checks its own)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "brightline.access",
    "brightline.cases",
    "brightline.demo",
    "brightline.world",
    "brightline.policy",
    "brightline.exports",
    "brightline.ledger",
    "brightline.transparency",
    "brightline.charts",
    "brightline.bundle",
    "brightline.web",
    "brightline.service",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist_and_are_public(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported), "duplicate names in __all__"
    for item in exported:
        assert not item.startswith("_"), item
        assert hasattr(module, item), f"{name}.{item} is listed in __all__ but missing"


@pytest.mark.parametrize(
    "name",
    [
        "brightline.access",
        "brightline.cases",
        "brightline.world",
        "brightline.policy",
        "brightline.ledger",
        "brightline.transparency",
        "brightline.bundle",
    ],
)
def test_core_domains_import_no_adapters(name: str) -> None:
    """Domains are pure: importing one loads no database, HTTP or CLI library."""
    import subprocess
    import sys

    code = (
        f"import sys, {name}; "
        "adapters = ('sqlalchemy', 'fastapi', 'typer', 'httpx', 'duckdb'); "
        "bad = [m for m in adapters if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_enforcement_loads_no_database_or_web_framework() -> None:
    """Gateways embed ``brightline.enforcement``: it must not drag the server in with it."""
    import subprocess
    import sys

    code = (
        "import sys, brightline.enforcement; "
        "server = ('sqlalchemy', 'fastapi', 'starlette', 'brightline.store', "
        "'brightline.service', 'brightline.api', 'brightline.web'); "
        "print(','.join(m for m in server if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_lazy_service_package_names_each_export_once_and_where_it_lives() -> None:
    """``brightline.service`` imports its names on first use: every name in ``__all__``
    has a module in ``_EXPORTS`` that defines it, and nothing else is listed."""
    service = importlib.import_module("brightline.service")
    assert set(service._EXPORTS) == set(service.__all__)
    for name, module in service._EXPORTS.items():
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"
