"""Settings come from the environment once, at the entry point; secrets never show."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from brightline.cli import app
from brightline.config import Settings, WitnessEndpoint
from brightline.errors import InvalidInputError
from brightline.generalization import TimeGranularity
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


def test_settings_built_from_arguments_do_not_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BRIGHTLINE_TRANSPARENCY_K", "9")
    assert Settings().transparency_k == 5
    assert Settings.from_env().transparency_k == 9


def test_an_empty_variable_counts_as_unset() -> None:
    assert Settings.from_env({"BRIGHTLINE_DATA_DIR": "", "BRIGHTLINE_TRANSPARENCY_K": ""}) == (
        Settings()
    )


@pytest.mark.parametrize(("text", "value"), [("true", True), ("TRUE", True), ("1", True)])
def test_booleans_are_true_false_1_or_0(text: str, value: bool) -> None:
    variable = Settings.variable("ledger_publishes_customer_names")
    assert Settings.from_env({variable: text}).ledger_publishes_customer_names is value
    assert Settings.from_env({variable: "False"}).ledger_publishes_customer_names is False
    assert Settings.from_env({variable: "0"}).ledger_publishes_customer_names is False


@pytest.mark.parametrize("text", ["on", "yes", "off", "no", "t", "2"])
def test_other_spellings_of_a_boolean_are_refused(text: str) -> None:
    variable = Settings.variable("ledger_publishes_customer_names")
    with pytest.raises(InvalidInputError, match=f"^{variable}: not a boolean"):
        Settings.from_env({variable: text})


def test_every_bad_variable_is_named_at_once() -> None:
    with pytest.raises(InvalidInputError) as caught:
        Settings.from_env(
            {"BRIGHTLINE_TRANSPARENCY_K": "five", "BRIGHTLINE_PLAN_MAX_USAGE_SHARE": "nan"}
        )
    assert [str(p) for p in caught.value.problems] == [
        "BRIGHTLINE_PLAN_MAX_USAGE_SHARE: not a finite number: 'nan'",
        "BRIGHTLINE_TRANSPARENCY_K: not an integer: 'five'",
    ]


#: A value each field type must refuse; the table is keyed by type so that a new field
#: is checked as soon as it is declared.
BAD_VALUE_OF_TYPE: dict[object, str] = {
    int: "five",
    float: "half",
    bool: "on",
    Mapping[str, str]: "audit",  # a claim without "=role"
    TimeGranularity: "year",
    int | None: "five",
    tuple[WitnessEndpoint, ...]: "https://witness.example",  # a URL without its key
}
#: Types of which any text is a value: nothing to refuse when they are read.
TEXT_TYPES: set[object] = {str, str | None, Path, SecretStr, SecretStr | None, tuple[str, ...]}
CHECKED = [
    (name, BAD_VALUE_OF_TYPE[info.annotation])
    for name, info in Settings.model_fields.items()
    if info.annotation in BAD_VALUE_OF_TYPE
]


def test_every_setting_has_a_type_the_bad_value_table_knows() -> None:
    unknown = {
        name: info.annotation
        for name, info in Settings.model_fields.items()
        if info.annotation not in BAD_VALUE_OF_TYPE and info.annotation not in TEXT_TYPES
    }
    assert not unknown, "add a bad value for these types to BAD_VALUE_OF_TYPE"
    assert {value for _, value in CHECKED} == set(BAD_VALUE_OF_TYPE.values())


@pytest.mark.parametrize(("field", "value"), CHECKED)
def test_a_bad_value_stops_the_cli_with_exit_2_naming_its_variable(field: str, value: str) -> None:
    variable = Settings.variable(field)
    result = CliRunner(env={variable: value}).invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2, (result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {variable}: ")
    assert repr(value) in lines[0]


def test_private_webhook_targets_are_allowed_only_when_asked_for() -> None:
    assert not Settings().webhook_allow_private_targets_unsafe
    assert not Settings.from_env({}).webhook_allow_private_targets_unsafe
    for value in ("1", "true", "TRUE"):
        env = {"BRIGHTLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS_UNSAFE": value}
        assert Settings.from_env(env).webhook_allow_private_targets_unsafe
    for value in ("0", "false"):
        env = {"BRIGHTLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS_UNSAFE": value}
        assert not Settings.from_env(env).webhook_allow_private_targets_unsafe


def test_the_ledger_s_granularity_is_a_day_week_or_month_and_sectors_extend_the_classes() -> None:
    assert Settings().ledger_time_granularity is TimeGranularity.DAY
    settings = Settings.from_env(
        {
            "BRIGHTLINE_LEDGER_TIME_GRANULARITY": "week",
            "BRIGHTLINE_LEDGER_PUBLIC_SECTORS": "health, coast-guard",
            "BRIGHTLINE_LEDGER_PRIVATE_SECTORS": "shipping",
        }
    )
    assert settings.ledger_time_granularity is TimeGranularity.WEEK
    assert settings.ledger_public_sectors == ("health", "coast-guard")
    assert settings.ledger_private_sectors == ("shipping",)
    with pytest.raises(InvalidInputError, match="media cannot be both public and private"):
        Settings.from_env({"BRIGHTLINE_LEDGER_PUBLIC_SECTORS": "media"})


def test_witnesses_are_url_and_key_pairs_with_a_quorum_they_can_meet() -> None:
    from brightline.ledger import generate_cosigner

    w1, w2 = (str(generate_cosigner(f"w{i}.example").verifier()) for i in (1, 2))
    settings = Settings.from_env(
        {
            "BRIGHTLINE_LEDGER_WITNESSES": f"https://w1.example/ {w1}, http://127.0.0.1:9 {w2}",
            "BRIGHTLINE_LEDGER_WITNESS_QUORUM": "1",
        }
    )
    assert settings.ledger_witnesses == (
        WitnessEndpoint(url="https://w1.example", key=w1),
        WitnessEndpoint(url="http://127.0.0.1:9", key=w2),
    )
    assert settings.ledger_witness_quorum == 1
    assert Settings().ledger_witnesses == ()
    for env, words in (
        ({"BRIGHTLINE_LEDGER_WITNESS_QUORUM": "1"}, "more than the 0 witnesses"),
        ({"BRIGHTLINE_LEDGER_WITNESSES": f"ftp://w1.example {w1}"}, "http:// or https://"),
        ({"BRIGHTLINE_LEDGER_WITNESSES": f"https://a {w1},https://b {w1}"}, "given twice"),
        ({"BRIGHTLINE_LEDGER_WITNESSES": "https://a w1+00000000+BAAA"}, "0x04"),
    ):
        with pytest.raises(InvalidInputError, match=words):
            Settings.from_env(env)


def test_the_database_timeout_is_two_seconds_unless_set_to_a_positive_number() -> None:
    assert Settings().db_timeout == 2.0
    assert Settings.from_env({"BRIGHTLINE_DB_TIMEOUT": "0.5"}).db_timeout == 0.5
    for value, message in [
        ("0", "must be more than 0"),
        ("-1", "must be more than 0"),
        ("inf", "not a finite number"),
        ("7200", "must be at most 3600"),
    ]:
        with pytest.raises(InvalidInputError) as caught:
            Settings.from_env({"BRIGHTLINE_DB_TIMEOUT": value})
        assert [str(p) for p in caught.value.problems] == [
            f"BRIGHTLINE_DB_TIMEOUT: {message}: {value!r}"
        ]


def test_the_appeal_contact_is_one_line_and_policy_names_are_semicolon_separated() -> None:
    from brightline.service import notice_of

    settings = Settings.from_env(
        {
            "BRIGHTLINE_APPEAL_CONTACT": " appeals@provider.example ",
            "BRIGHTLINE_POLICY_NAMES": "export-controls=Export controls, sanctions; "
            "mass-surveillance=Surveillance of civilians",
        }
    )
    assert settings.appeal_contact == "appeals@provider.example"
    notice = notice_of(settings)
    assert notice.appeal_contact == "appeals@provider.example"
    assert dict(notice.policy_names) == {
        "export-controls": "Export controls, sanctions",
        "mass-surveillance": "Surveillance of civilians",  # the setting wins over the pack
    }
    assert dict(notice_of(Settings()).policy_names) == {
        "mass-surveillance": "Mass surveillance of civilians"
    }
    for env, words in (
        ({"BRIGHTLINE_APPEAL_CONTACT": "a\nb"}, "BRIGHTLINE_APPEAL_CONTACT: must be one line"),
        ({"BRIGHTLINE_POLICY_NAMES": "mass-surveillance"}, "BRIGHTLINE_POLICY_NAMES: not policy"),
    ):
        with pytest.raises(InvalidInputError, match=words):
            Settings.from_env(env)
