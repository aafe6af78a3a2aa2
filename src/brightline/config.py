"""Settings: one object, built by the entry point from the environment and passed down.

Nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

DEFAULT_DATABASE_URL = "sqlite:///brightline.db"
DEFAULT_DATA_DIR = "brightline-data"


@dataclass(frozen=True, slots=True)
class Settings:
    """Where Brightline keeps its state.

    ``database_url`` is a SQLAlchemy URL: SQLite by default (``./brightline.db``),
    PostgreSQL through ``postgresql+psycopg://…``. Its password never shows in a repr.
    """

    database_url: SecretStr = field(default_factory=lambda: SecretStr(DEFAULT_DATABASE_URL))
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    #: OIDC bearer tokens (optional): issuer, audience, JWKS (a file path or an https URL),
    #: the claim holding role names, and a map from those names to Brightline roles.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks: str | None = None
    oidc_roles_claim: str = "roles"
    oidc_role_map: Mapping[str, str] = field(default_factory=dict)
    #: Console sign-in through the identity provider (authorization code flow with PKCE):
    #: the console's client id (and secret, for a confidential client) and the provider's
    #: authorization and token endpoints. The ID token it returns is checked as above.
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_authorization_endpoint: str | None = None
    oidc_token_endpoint: str | None = None
    #: The blast-radius guard (docs/lifecycle.md): above either limit, a proposal needs a
    #: guard approval before its approval.
    plan_max_subscriptions: int = 25
    plan_max_usage_share: float = 0.5
    #: Requests per minute per credential on the admin and case endpoints.
    admin_rate_per_minute: int = 600
    #: Transparency reports (docs/transparency.md): counts from 1 to k-1 are shown as
    #: "< k"; the fields of each restriction in force that the report lists.
    transparency_k: int = 5
    transparency_fields: tuple[str, ...] = ("policy", "sector", "country", "service_tags")
    #: Publish each restriction's customer name in its ledger entry (and so allow the
    #: "customer" field above). Off by default: entries are public forever.
    ledger_publishes_customer_names: bool = False
    #: Let webhook contacts point at loopback, private, link-local and other non-public
    #: addresses. Off by default: whoever adds a contact chooses its URL, and could
    #: otherwise make Brightline send signed requests into the provider's own network
    #: (metadata services, admin ports). For tests and closed single-host setups.
    webhook_allow_private_targets_unsafe: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        role_map: dict[str, str] = {}
        for pair in (env.get("BRIGHTLINE_OIDC_ROLE_MAP") or "").split(","):
            claim, sep, role = pair.partition("=")
            if sep and claim.strip():
                role_map[claim.strip()] = role.strip()
        return cls(
            database_url=SecretStr(env.get("BRIGHTLINE_DATABASE_URL") or DEFAULT_DATABASE_URL),
            data_dir=Path(env.get("BRIGHTLINE_DATA_DIR") or DEFAULT_DATA_DIR),
            oidc_issuer=env.get("BRIGHTLINE_OIDC_ISSUER") or None,
            oidc_audience=env.get("BRIGHTLINE_OIDC_AUDIENCE") or None,
            oidc_jwks=env.get("BRIGHTLINE_OIDC_JWKS") or None,
            oidc_roles_claim=env.get("BRIGHTLINE_OIDC_ROLES_CLAIM") or "roles",
            oidc_role_map=role_map,
            oidc_client_id=env.get("BRIGHTLINE_OIDC_CLIENT_ID") or None,
            oidc_client_secret=(
                SecretStr(env["BRIGHTLINE_OIDC_CLIENT_SECRET"])
                if env.get("BRIGHTLINE_OIDC_CLIENT_SECRET")
                else None
            ),
            oidc_authorization_endpoint=env.get("BRIGHTLINE_OIDC_AUTHORIZATION_ENDPOINT") or None,
            oidc_token_endpoint=env.get("BRIGHTLINE_OIDC_TOKEN_ENDPOINT") or None,
            admin_rate_per_minute=int(env.get("BRIGHTLINE_ADMIN_RATE_PER_MINUTE") or 600),
            plan_max_subscriptions=int(env.get("BRIGHTLINE_PLAN_MAX_SUBSCRIPTIONS") or 25),
            plan_max_usage_share=float(env.get("BRIGHTLINE_PLAN_MAX_USAGE_SHARE") or 0.5),
            transparency_k=int(env.get("BRIGHTLINE_TRANSPARENCY_K") or 5),
            transparency_fields=tuple(
                f.strip()
                for f in (
                    env.get("BRIGHTLINE_TRANSPARENCY_FIELDS")
                    or "policy,sector,country,service_tags"
                ).split(",")
                if f.strip()
            ),
            ledger_publishes_customer_names=(
                env.get("BRIGHTLINE_LEDGER_PUBLISHES_CUSTOMER_NAMES", "").lower()
                in {"1", "true", "yes"}
            ),
            webhook_allow_private_targets_unsafe=(
                env.get("BRIGHTLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS_UNSAFE", "").lower()
                in {"1", "true", "yes"}
            ),
        )
