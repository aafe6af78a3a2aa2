"""The HTTP API: decisions, signed bundles, decision logs, restrictions, the ledger, exports."""

from brightline.api.app import create_app

__all__ = ["create_app"]
