"""Settings come from the environment once, at the entry point; secrets never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from brightline.config import Settings
from brightline.errors import InvalidInputError
from brightline.service.plans import PlanLimits


def test_settings_read_the_environment_they_are_given() -> None:
    settings = Settings.from_env(
        {
            "BRIGHTLINE_DATABASE_URL": "postgresql+psycopg://u:hunter2@db/b",
            "BRIGHTLINE_DATA_DIR": "/srv/bl",
            "BRIGHTLINE_OIDC_ROLE_MAP": "audit=auditor, legal=approver",
            "BRIGHTLINE_OIDC_CLIENT_SECRET": "s3cret",
            "BRIGHTLINE_PLAN_MAX_SUBSCRIPTIONS": "3",
            "BRIGHTLINE_PLAN_MAX_USAGE_SHARE": "0.1",
        }
    )
    assert settings.data_dir == Path("/srv/bl")
    assert settings.oidc_role_map == {"audit": "auditor", "legal": "approver"}
    assert "hunter2" not in repr(settings)
    assert "s3cret" not in repr(settings)
    assert PlanLimits.of(settings) == PlanLimits(max_subscriptions=3, max_usage_share=0.1)
    assert PlanLimits.of(Settings.from_env({})) == PlanLimits()


def test_impossible_plan_limits_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="usage share"):
        PlanLimits.of(Settings(plan_max_usage_share=1.5))


def test_private_webhook_targets_are_allowed_only_when_asked_for() -> None:
    assert not Settings().webhook_allow_private_targets_unsafe
    assert not Settings.from_env({}).webhook_allow_private_targets_unsafe
    for value in ("1", "true", "YES"):
        env = {"BRIGHTLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS_UNSAFE": value}
        assert Settings.from_env(env).webhook_allow_private_targets_unsafe
    env = {"BRIGHTLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS_UNSAFE": "no"}
    assert not Settings.from_env(env).webhook_allow_private_targets_unsafe
