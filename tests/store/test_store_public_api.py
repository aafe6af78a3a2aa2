from __future__ import annotations

import brightline.service
import brightline.store
import brightline.world.importers


def test_every_exported_name_exists_and_is_public() -> None:
    for module in (brightline.store, brightline.service, brightline.world.importers):
        assert len(set(module.__all__)) == len(module.__all__)  # (ruff RUF022 orders it)
        for name in module.__all__:
            assert not name.startswith("_")
            assert hasattr(module, name), f"{module.__name__}.{name}"
