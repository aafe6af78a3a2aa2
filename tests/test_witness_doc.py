"""The standard-library recipe of docs/verify.md counts witness cosignatures as
Brightline does (it needs the ``openssl`` command, as the page says)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from brightline.ledger import (
    Checkpoint,
    add_signatures,
    generate_cosigner,
    generate_key,
    leaf_hash,
    sign_checkpoint,
)

DOC = Path(__file__).parents[1] / "docs" / "verify.md"


def _recipe() -> str:
    text = DOC.read_text(encoding="utf-8")
    after = text[text.index("**`check_cosignatures.py`**") :]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_cosignature_recipe_agrees_with_brightline(tmp_path: Path) -> None:
    script = tmp_path / "check_cosignatures.py"
    script.write_text(_recipe(), encoding="utf-8")
    log = generate_key("test.brightline/ledger")
    w1, w2 = generate_cosigner("w1.example/witness"), generate_cosigner("w2.example/witness")
    checkpoint = Checkpoint(log.name, 12, leaf_hash(b"root"))
    note = add_signatures(
        sign_checkpoint(checkpoint, log),
        [w1.sign(checkpoint.body(), timestamp=1_700_000_000)],
    )
    path = tmp_path / "checkpoint"
    path.write_text(note, encoding="utf-8")
    keys = [str(w1.verifier()), str(w2.verifier())]

    def run(quorum: int) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, str(script), str(path), str(quorum), *keys]
        return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)

    one = run(1)
    assert one.returncode == 0, one.stderr
    assert "1 valid cosignatures of 2 witnesses: w1.example/witness" in one.stdout
    two = run(2)
    assert two.returncode == 1
    assert "NOT WITNESSED: 2 needed" in two.stderr
    path.write_text(note.replace("\n12\n", "\n13\n"), encoding="utf-8")  # another checkpoint
    assert "0 valid cosignatures" in run(1).stdout
