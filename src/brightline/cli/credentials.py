"""Who runs a command: the credential it takes, and the one gate on the way to the store.

Every command that changes the store or reads protected data from it acts as an
authenticated principal, exactly like an API request: the credential (an API key
``bl_…`` or an OIDC token) becomes a principal through the one authenticator
(:class:`~brightline.service.access.Authenticator`), the command's action is checked
against the permission table (:func:`brightline.access.authorize`), and the service
function, which checks it again, is called with that principal. No command names roles.

The credential comes from, in this order: ``--key-file FILE``, ``--token-file FILE``,
``BRIGHTLINE_API_KEY``, ``BRIGHTLINE_OIDC_TOKEN``. A file readable or writable by group
or others is refused (like ssh refuses such a private key): a key on disk is the
principal. Environment variables are read when a command runs, never at import.

The store is imported when a command acts, not with this module: a command that only
takes the options (``check --world``) starts without it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from brightline.access import Action, Principal, authorize
from brightline.cli.app import settings
from brightline.errors import AuthenticationError, InvalidInputError, Problem

if TYPE_CHECKING:
    from brightline.config import Settings
    from brightline.service import Store

API_KEY_ENV: Final = "BRIGHTLINE_API_KEY"
OIDC_TOKEN_ENV: Final = "BRIGHTLINE_OIDC_TOKEN"

KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help=f"File holding your API key (mode 0600); or set {API_KEY_ENV}.",
        show_default=False,
    ),
]
TokenFile = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help=f"File holding an OIDC token (mode 0600); or set {OIDC_TOKEN_ENV}.",
        show_default=False,
    ),
]

_MISSING: Final = (
    "this command acts as a principal: give --key-file FILE or --token-file FILE, or set "
    f"{API_KEY_ENV} or {OIDC_TOKEN_ENV} (the first key of a store comes from "
    "`brightline bootstrap`)"
)


def _read_secret(path: Path, option: str) -> str:
    try:
        mode = path.stat().st_mode
        if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
            raise InvalidInputError(
                Problem(
                    str(path),
                    f"{option}: readable or writable by group or others "
                    f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}`",
                )
            )
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(Problem(str(path), f"{option}: cannot read: {exc}")) from exc
    if not text or len(text.split()) != 1:
        raise InvalidInputError(Problem(str(path), f"{option}: expected one credential"))
    return text


def read_credential(
    key_file: Path | None,
    token_file: Path | None,
    *,
    env: Mapping[str, str] | None = None,
) -> str:
    """The credential a command was given; AuthenticationError if none.

    Two files, or (without a file) both environment variables, are refused rather than
    one picked: acting as someone other than intended is worse than being asked again.
    """
    if key_file is not None and token_file is not None:
        raise InvalidInputError(Problem("--key-file", "give --key-file or --token-file, not both"))
    if key_file is not None:
        return _read_secret(key_file, "--key-file")
    if token_file is not None:
        return _read_secret(token_file, "--token-file")
    env = os.environ if env is None else env
    key, token = env.get(API_KEY_ENV, "").strip(), env.get(OIDC_TOKEN_ENV, "").strip()
    if key and token:
        raise InvalidInputError(
            Problem(API_KEY_ENV, f"both {API_KEY_ENV} and {OIDC_TOKEN_ENV} are set: unset one")
        )
    if not (key or token):
        raise AuthenticationError(_MISSING)
    return key or token


def authenticate(store: Store, config: Settings, credential: str, action: Action) -> Principal:
    """The principal behind ``credential``, if the table lets it do ``action``."""
    from brightline.service.access import Authenticator

    principal = Authenticator(store, config).principal_for(credential)
    authorize(principal, action)
    return principal


@contextmanager
def acting(
    action: Action,
    key_file: Path | None,
    token_file: Path | None,
    *,
    config: Settings | None = None,
    record: bool = False,
    read_only: bool = False,
) -> Iterator[tuple[Store, Principal]]:
    """Open the store as the command's principal, allowed ``action`` by the table.

    ``record`` opens it for a state change (the ledger is synced once it has committed,
    :func:`~brightline.service.ledger.recording`); ``read_only`` opens a store that
    cannot change (verification: it neither migrates nor writes). The credential is read
    before the store is opened, so a missing one costs no connection.
    """
    if record and read_only:
        raise ValueError("a command cannot both record a change and open the store read-only")
    from brightline.service import open_store
    from brightline.service.ledger import recording

    credential = read_credential(key_file, token_file)
    config = config or settings()
    opened: AbstractContextManager[Store] = (
        recording(config) if record else open_store(config, read_only=read_only)
    )
    with opened as store:
        yield store, authenticate(store, config, credential, action)
