"""The server: one application state shared by the API (``brightline.api``) and the
console (``brightline.web``), which never import each other, and ``create_app`` that puts
both on it."""

from brightline.server.app import UVICORN_LOGS, create_app
from brightline.server.state import AppState, notify_change

__all__ = ["UVICORN_LOGS", "AppState", "create_app", "notify_change"]
