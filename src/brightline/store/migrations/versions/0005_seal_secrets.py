"""Seal reporter identities and webhook secrets stored in plain text.

No column changes: the values stay in their columns, sealed with the key of the data
directory (``brightline.store.secrets``). Rows written before this revision are sealed
here, in the migration's transaction, so that no plain value outlives the upgrade. That
needs the key, so a database holding such rows must be upgraded through its settings
(``brightline db upgrade`` or any command, with ``BRIGHTLINE_DATA_DIR`` set): opened from
a bare URL, the upgrade stops with an error and changes nothing. A database without
such rows upgrades without a key. The downgrade opens the values again (it needs the key
too).

Revision ID: 0005_seal_secrets
Revises: 0004_serving
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import context, op

from brightline.errors import StoreUnavailableError
from brightline.store.secrets import SEALED_PREFIX, Keyring, SealedField, StoreSecrets

revision = "0005_seal_secrets"
down_revision = "0004_serving"
branch_labels = None
depends_on = None

_REPORTER_FIELDS = (
    ("name", SealedField.REPORTER_NAME),
    ("contact", SealedField.REPORTER_CONTACT),
    ("organization", SealedField.REPORTER_ORGANIZATION),
)


def _keyring(what: str) -> Keyring:
    store_secrets = context.config.attributes.get("secrets")
    if not isinstance(store_secrets, StoreSecrets) or store_secrets.path is None:
        raise StoreUnavailableError(
            f"migration {revision} must {what} reporter identities and webhook secrets with "
            "the key of the data directory: run it with the deployment's settings "
            "(`brightline db upgrade` with BRIGHTLINE_DATA_DIR set)"
        )
    return store_secrets.for_migration()


Convert = Callable[[Keyring, str, SealedField, int], str]


def _rewrite(convert: Convert, what: str) -> None:
    bind = op.get_bind()
    reporters = bind.execute(
        sa.text("SELECT signal_id, name, contact, organization FROM reporter_identities")
    ).all()
    contacts = bind.execute(
        sa.text("SELECT id, secret FROM notification_contacts WHERE secret IS NOT NULL")
    ).all()
    if not reporters and not contacts:
        return
    keyring = _keyring(what)
    for signal_id, *values in reporters:
        changed = {
            column: None if value is None else convert(keyring, value, field, signal_id)
            for (column, field), value in zip(_REPORTER_FIELDS, values, strict=True)
        }
        bind.execute(
            sa.text(
                "UPDATE reporter_identities SET name = :name, contact = :contact, "
                "organization = :organization WHERE signal_id = :id"
            ),
            {"id": signal_id, **changed},
        )
    for contact_id, secret in contacts:
        sealed = convert(keyring, secret, SealedField.WEBHOOK_SECRET, contact_id)
        bind.execute(
            sa.text("UPDATE notification_contacts SET secret = :secret WHERE id = :id"),
            {"id": contact_id, "secret": sealed},
        )


def _seal(keyring: Keyring, value: str, field: SealedField, row: int) -> str:
    # Before this revision nothing was sealed; a value that already opens was sealed by
    # newer code on a database opened without migrating, and is left as it is.
    if value.startswith(SEALED_PREFIX):
        try:
            keyring.open(value, field=field, row=row)
        except StoreUnavailableError:
            pass
        else:
            return value
    return keyring.seal(value, field=field, row=row)


def _open(keyring: Keyring, value: str, field: SealedField, row: int) -> str:
    return keyring.open(value, field=field, row=row)


def upgrade() -> None:
    _rewrite(_seal, "seal")


def downgrade() -> None:
    _rewrite(_open, "open")
