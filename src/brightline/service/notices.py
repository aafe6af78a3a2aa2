"""How the deployment words a denial for the customer's caller (store-free, so that
deciding a file against world files loads no database)."""

from __future__ import annotations

from brightline.config import Settings
from brightline.detection.packs import builtin_policy_names
from brightline.policy import Notice


def notice_of(settings: Settings) -> Notice:
    """How the deployment words denials for customers: its appeal contact, and the public
    name of each policy (the built-in packs' titles, then the settings' own names)."""
    return Notice(settings.appeal_contact, {**builtin_policy_names(), **settings.policy_names})
