from __future__ import annotations

import brightline.service
import brightline.store
import brightline.world.importers


def test_every_exported_name_exists_and_is_public() -> None:
    for module in (brightline.store, brightline.service, brightline.world.importers):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert not name.startswith("_")
            assert hasattr(module, name), f"{module.__name__}.{name}"
