"""Sealing: AES-GCM values bound to their row and field, a key file that says its version."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from brightline.errors import StoreUnavailableError
from brightline.store.secrets import Keyring, SealedField, StoreSecrets, key_path

NAME = SealedField.REPORTER_NAME


def _key_line(version: str, fill: int) -> str:
    return f"{version}:{base64.urlsafe_b64encode(bytes([fill]) * 32).decode()}\n"


def test_a_sealed_value_opens_for_its_own_row_and_field_only() -> None:
    keyring = Keyring.generate()
    sealed = keyring.seal("Jo", field=NAME, row=7)
    assert sealed.startswith("sealed:v1:")
    assert sealed != keyring.seal("Jo", field=NAME, row=7)  # a fresh nonce each time
    assert keyring.open(sealed, field=NAME, row=7) == "Jo"
    for field, row in ((NAME, 8), (SealedField.REPORTER_CONTACT, 7)):
        with pytest.raises(StoreUnavailableError, match="altered or moved"):
            keyring.open(sealed, field=field, row=row)
    with pytest.raises(StoreUnavailableError, match="does not open"):
        Keyring.generate().open(sealed, field=NAME, row=7)


@pytest.mark.parametrize("stored", ["Jo", "sealed:v1:", "sealed:v1:!!!", "sealed:v1:AAAA"])
def test_a_value_that_is_not_sealed_does_not_open(stored: str) -> None:
    with pytest.raises(StoreUnavailableError):
        Keyring.generate().open(stored, field=NAME, row=1)


def test_a_second_key_seals_while_the_first_still_opens(tmp_path: Path) -> None:
    """Rotation: append ``v2:<key>`` to the key file; old values keep their ``v1``."""
    path = tmp_path / "store.key"
    path.write_text(_key_line("v1", 1))
    old = Keyring.parse(path.read_text(), path).seal("Jo", field=NAME, row=1)
    path.write_text(_key_line("v1", 1) + _key_line("v2", 2))
    rotated = Keyring.parse(path.read_text(), path)
    assert rotated.seal("Jo", field=NAME, row=1).startswith("sealed:v2:")
    assert rotated.open(old, field=NAME, row=1) == "Jo"
    with pytest.raises(StoreUnavailableError, match="key 'v2', not in the key file"):
        Keyring.parse(_key_line("v1", 1), path).open(
            rotated.seal("Jo", field=NAME, row=1), field=NAME, row=1
        )


@pytest.mark.parametrize("text", ["", "v1\n", "v1:short\n", "x1:" + "A" * 44 + "\n"])
def test_a_malformed_key_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "store.key"
    path.write_text(text)
    with pytest.raises(StoreUnavailableError, match=r"store\.key"):
        StoreSecrets(path).for_opening()


def test_the_key_is_created_private_once_and_then_reused(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        data_dir = tmp_path / "a" / "data"
        created = StoreSecrets(key_path(data_dir)).for_migration()
    finally:
        os.umask(old)
    path = key_path(data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (path.parent, data_dir, data_dir.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["store.key"]  # no temporary left
    again = StoreSecrets(key_path(data_dir)).for_migration()
    assert again.keys == created.keys


def test_a_store_without_a_data_directory_has_no_key() -> None:
    with pytest.raises(StoreUnavailableError, match="without a data directory"):
        StoreSecrets(None).for_opening()


def test_a_keyring_never_shows_its_keys() -> None:
    keyring = Keyring.generate()
    key = keyring.keys["v1"]
    assert repr(keyring) == "Keyring(versions=['v1'], current='v1')"
    assert base64.urlsafe_b64encode(key).decode() in keyring.to_text()
