"""One worker process of ``brightline serve --workers N``: uvicorn starts each worker
from an import string, so each builds its own application here, over its own store
connections, from the same settings (the environment the parent read them from). The
parent prepared the store first (migrated, bootstrapped, ledger key made), so a worker
only opens it. Workers share what every replica shares, through the database: console
sessions, rate limits and the ledger writer's lock."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from brightline.config import Settings
from brightline.errors import NotFoundError
from brightline.server.app import create_app
from brightline.service.ledger import LedgerKeys
from brightline.store import open_store

#: What uvicorn imports in each worker (an application factory).
FACTORY = "brightline.server.workers:worker_app"


def worker_app() -> FastAPI:
    """The application of one worker: the settings from the environment, the store
    opened without migrating, the ledger key from the data directory."""
    # A worker is a fresh interpreter: it logs as the parent does (JSON lines).
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings.from_env()
    signer = LedgerKeys.of(settings).signer()
    if signer is None:
        raise NotFoundError(
            f"no ledger key at {LedgerKeys.of(settings).private}: start workers through "
            "`brightline serve`, which makes it"
        )
    return create_app(settings, open_store(settings, migrate=False), signer)
