"""Settings: one object, built by the entry point from the environment and passed down.

Nothing reads the environment at import time, nor when ``Settings(...)`` is built from
arguments (as tests and embedders do): only :meth:`Settings.from_env` reads it, once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from brightline.errors import InvalidInputError, Problem
from brightline.generalization import SectorClasses, TimeGranularity
from brightline.ledger import CosignatureVerifier

DEFAULT_DATABASE_URL = "sqlite:///brightline.db"
DEFAULT_DATA_DIR = "brightline-data"
#: Seconds the server waits for the database (docs/operations.md).
DEFAULT_DB_TIMEOUT: Final = 2.0
ENV_PREFIX: Final = "BRIGHTLINE_"

#: The only spellings of a boolean: pydantic would also take on/off, yes/no, y/n and t/f,
#: and a typo among those would silently switch a setting.
_BOOLEANS: Final = {"true": True, "1": True, "false": False, "0": False}

#: Pydantic error types, in the words the operator reads.
_MESSAGES: Final = {
    "int_parsing": "not an integer",
    "int_from_float": "not an integer",
    "int_type": "not an integer",
    "float_parsing": "not a number",
    "float_type": "not a number",
    "finite_number": "not a finite number",
}


class WitnessEndpoint(BaseModel):
    """A witness the log submits its checkpoints to (C2SP tlog-witness): its submission
    URL prefix (``add-checkpoint`` is posted under it) and its verifier key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    key: str

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
            raise ValueError(f"a witness URL must be http:// or https://: {value!r}")
        return value.rstrip("/")

    @field_validator("key")
    @classmethod
    def _witness_key(cls, value: str) -> str:
        try:
            return str(CosignatureVerifier.parse(value))
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier.parse(self.key)


class Settings(BaseSettings):
    """Where Brightline keeps its state and how it behaves.

    Each field ``name`` comes from the variable ``BRIGHTLINE_<NAME>``; an empty variable
    counts as unset. ``database_url`` is a SQLAlchemy URL: SQLite by default
    (``./brightline.db``), PostgreSQL through ``postgresql+psycopg://…``. Its password
    never shows in a repr.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid"
    )

    database_url: SecretStr = SecretStr(DEFAULT_DATABASE_URL)
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    #: The longest any step waits for the database, in seconds: a connection (at least
    #: 2 s on PostgreSQL, libpq's floor), a pooled connection, the write lock, a statement,
    #: a silent server. The server answers 503 when it runs out (docs/operations.md).
    db_timeout: float = Field(default=DEFAULT_DB_TIMEOUT, gt=0, le=3600, allow_inf_nan=False)
    #: OIDC bearer tokens (optional): issuer, audience, JWKS (a file path or an https URL),
    #: the claim holding role names, and a map from those names to Brightline roles
    #: (``claim=role,…`` in the environment).
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks: str | None = None
    oidc_roles_claim: str = "roles"
    oidc_role_map: Annotated[Mapping[str, str], NoDecode] = Field(default_factory=dict)
    #: OIDC principals are named ``oidc:<alias>:<sub>`` so that they never collide with
    #: API-key principals (whose names cannot hold a colon); grant roles to that name.
    oidc_issuer_alias: str = "idp"
    #: Console sign-in through the identity provider (authorization code flow with PKCE):
    #: the console's client id (and secret, for a confidential client) and the provider's
    #: authorization and token endpoints. The ID token it returns is checked as above.
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_authorization_endpoint: str | None = None
    oidc_token_endpoint: str | None = None
    #: The blast-radius guard (docs/lifecycle.md): above either limit, a proposal needs a
    #: guard approval before its approval. Their range is checked by ``PlanLimits.of``.
    plan_max_subscriptions: int = 25
    plan_max_usage_share: float = Field(default=0.5, allow_inf_nan=False)
    #: Requests per minute per credential on the admin and case endpoints.
    admin_rate_per_minute: int = Field(default=600, ge=1)
    #: Requests per minute per client address on each public report route (filing, and
    #: following up by receipt), counted in each server's memory only.
    public_rate_per_minute: int = Field(default=10, ge=1)
    #: Transparency reports (docs/transparency.md): counts from 1 to k-1 are shown as
    #: "< k"; the fields of each restriction in force that the report lists (comma-separated
    #: in the environment). The service checks both when it writes a report.
    transparency_k: int = 5
    transparency_fields: Annotated[tuple[str, ...], NoDecode] = (
        "policy",
        "sector",
        "country",
        "service_tags",
    )
    #: Figures about investigations, published with differential privacy
    #: (docs/transparency.md): the ε of each noisy figure; the ε all releases together may
    #: ever spend (a report that would go over it is refused); the prohibited-use policies
    #: given a row of their own among findings (comma-separated; others share one row).
    privacy_epsilon_per_figure: float = Field(default=0.5, gt=0, allow_inf_nan=False)
    privacy_epsilon_budget: float = Field(default=100.0, gt=0, allow_inf_nan=False)
    privacy_policies: Annotated[tuple[str, ...], NoDecode] = ("mass-surveillance",)
    #: Publish each restriction's customer name in its ledger entry (and so allow the
    #: "customer" field above). Off by default: entries are public forever.
    ledger_publishes_customer_names: bool = False
    #: Ledger entries publish times (and restriction windows) rounded down to the start
    #: of their day, ISO week or month, in UTC (docs/privacy.md). Decide before the first
    #: entry: entries are public forever.
    ledger_time_granularity: TimeGranularity = TimeGranularity.DAY
    #: Sectors the deployment adds to the built-in public and private classes that
    #: restriction entries generalize a sector to (comma-separated in the environment).
    ledger_public_sectors: Annotated[tuple[str, ...], NoDecode] = ()
    ledger_private_sectors: Annotated[tuple[str, ...], NoDecode] = ()
    #: Let webhook contacts point at loopback, private, link-local and other non-public
    #: addresses. Off by default: whoever adds a contact chooses its URL, and could
    #: otherwise make Brightline send signed requests into the provider's own network
    #: (metadata services, admin ports). For tests and closed single-host setups.
    webhook_allow_private_targets_unsafe: bool = False
    #: Witnesses (docs/ledger.md): each new checkpoint is submitted to each of them and
    #: their cosignatures kept with it. In the environment, comma-separated entries of
    #: ``<URL prefix> <witness verifier key>``. ``ledger_witness_quorum`` is how many valid
    #: cosignatures the deployment's own ``ledger verify`` requires (default: all);
    #: ``ledger_witness_timeout`` bounds each request to a witness, in seconds.
    ledger_witnesses: Annotated[tuple[WitnessEndpoint, ...], NoDecode] = ()
    ledger_witness_quorum: int | None = Field(default=None, ge=1)
    ledger_witness_timeout: float = Field(default=5.0, gt=0, le=300, allow_inf_nan=False)
    #: What a denied customer's caller is told (docs/api.md, "What a denied caller
    #: sees"): whom to contact to appeal, an address or a URL (empty: "your provider's
    #: support"), and the public name of policies beyond the built-in packs' titles
    #: (``policy=name;…`` in the environment: names may hold commas). Signed into every
    #: bundle, so the enforcement points word denials the same way.
    appeal_contact: str = Field(default="", max_length=200)
    policy_names: Annotated[Mapping[str, str], NoDecode] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the arguments: the environment is read by from_env, at the entry point.
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``BRIGHTLINE_*`` from ``env`` (the process environment if None).

        Raises InvalidInputError naming every variable whose value does not fit, e.g.
        ``BRIGHTLINE_TRANSPARENCY_K: not an integer: 'five'``.
        """
        source = _Environment(cls, os.environ if env is None else env)
        try:
            return cls(**source())
        except ValidationError as exc:
            raise InvalidInputError(_problems(exc)) from exc

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable a field is read from."""
        return f"{ENV_PREFIX}{field.upper()}"

    @field_validator("oidc_role_map", mode="before")
    @classmethod
    def _role_pairs(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for pair in value.split(","):
            if not pair.strip():
                continue
            claim, sep, role = pair.partition("=")
            if not sep or not claim.strip() or not role.strip():
                raise ValueError(f"not claim=role pairs: {pair.strip()!r} has no role")
            pairs[claim.strip()] = role.strip()
        return pairs

    @field_validator("policy_names", mode="before")
    @classmethod
    def _policy_pairs(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for pair in value.split(";"):
            if not pair.strip():
                continue
            policy, sep, name = pair.partition("=")
            if not sep or not policy.strip() or not name.strip():
                raise ValueError(f"not policy=name pairs: {pair.strip()!r} has no name")
            pairs[policy.strip()] = name.strip()
        return pairs

    @field_validator("appeal_contact")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # It is sent in an HTTP header (the gateway's denial) and in one sentence.
        if any(not c.isprintable() for c in value):
            raise ValueError(f"must be one line of printable text: {value!r}")
        return value.strip()

    @field_validator("ledger_witnesses", mode="before")
    @classmethod
    def _witness_pairs(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        endpoints = []
        for entry in value.split(","):
            if not entry.strip():
                continue
            parts = entry.split()
            if len(parts) != 2:
                raise ValueError(f"not '<URL prefix> <witness verifier key>': {entry.strip()!r}")
            endpoints.append({"url": parts[0], "key": parts[1]})
        return endpoints

    @field_validator(
        "transparency_fields",
        "ledger_public_sectors",
        "ledger_private_sectors",
        "privacy_policies",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return tuple(part.strip() for part in value.split(",") if part.strip())

    @field_validator(
        "ledger_publishes_customer_names", "webhook_allow_private_targets_unsafe", mode="before"
    )
    @classmethod
    def _boolean(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return _BOOLEANS[value.strip().lower()]
        except KeyError:
            raise ValueError(f"not a boolean (true, false, 1 or 0): {value!r}") from None

    @model_validator(mode="after")
    def _witness_quorum(self) -> Settings:
        quorum, count = self.ledger_witness_quorum, len(self.ledger_witnesses)
        if quorum is not None and quorum > count:
            raise ValueError(
                f"{self.variable('ledger_witness_quorum')}: {quorum} is more than the "
                f"{count} witnesses of {self.variable('ledger_witnesses')}"
            )
        keys = [w.key for w in self.ledger_witnesses]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.variable('ledger_witnesses')}: a witness key is given twice")
        return self

    @model_validator(mode="after")
    def _sector_classes(self) -> Settings:
        try:
            SectorClasses.extended(
                public=self.ledger_public_sectors, private=self.ledger_private_sectors
            )
        except InvalidInputError as exc:
            raise ValueError(
                f"{self.variable('ledger_public_sectors')} and "
                f"{self.variable('ledger_private_sectors')}: {exc}"
            ) from None
        return self


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def _problems(exc: ValidationError) -> list[Problem]:
    return [_problem(error) for error in exc.errors(include_url=False)]


def _problem(error: ErrorDetails) -> Problem:
    field = str(error["loc"][0]) if error["loc"] else ""
    where = Settings.variable(field) if field else ""
    if error["type"] == "value_error":  # our validators' messages name the value
        return Problem(where, str(error["msg"]).removeprefix("Value error, "))
    if error["type"] == "greater_than_equal":
        message = f"must be at least {_bound(error, 'ge')}"
    elif error["type"] == "greater_than":
        message = f"must be more than {_bound(error, 'gt')}"
    elif error["type"] == "less_than_equal":
        message = f"must be at most {_bound(error, 'le')}"
    else:
        message = _MESSAGES.get(error["type"], error["msg"])
    if isinstance(error["input"], str) and not _is_secret(field):
        message = f"{message}: {error['input']!r}"
    return Problem(where, message)


def _bound(error: ErrorDetails, name: str) -> str:
    value = error.get("ctx", {}).get(name)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _is_secret(field: str) -> bool:
    info = Settings.model_fields.get(field)
    return info is None or SecretStr in (info.annotation, *get_args(info.annotation))
