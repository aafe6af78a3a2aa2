"""The HTTP API: decisions, signed bundles, decision logs, restrictions, cases, principals,
the ledger, exports. The application that serves it is ``brightline.server.create_app``."""
