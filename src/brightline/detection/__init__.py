"""Detection: rules as YAML, compiled once to an engine-neutral query and run on DuckDB or
Spark; scores per node, a review threshold per pack, alerts and suppressions.

A detection is a reason to review, never a verdict.
"""

from brightline.detection.alerts import (
    AlertsWritten,
    add_suppression,
    read_alerts,
    read_suppressions,
    write_alerts,
)
from brightline.detection.engines import (
    DuckDBEngine,
    Engine,
    EngineError,
    Usage,
    WorldTables,
    create_engine,
)
from brightline.detection.evasion import Watch
from brightline.detection.incremental import RunState, Since, basis, read_state, write_state
from brightline.detection.kinds import RULE_KINDS, RuleKind
from brightline.detection.localize import TREE_LEVEL
from brightline.detection.model import PackSpec, RuleSpec, Selection, Severity
from brightline.detection.neutral import ALLOWED_FUNCTIONS, Dialect, NeutralQuery, compile_sql
from brightline.detection.packs import (
    DEFAULT_PACK,
    Pack,
    builtin_packs,
    builtin_policy_names,
    load_pack,
)
from brightline.detection.rules import Rule, load_rule, parse_rule
from brightline.detection.runner import (
    DetectionRun,
    FixtureResult,
    fixture_table,
    run_fixtures,
    run_pack,
    run_rules,
)
from brightline.detection.scoring import EPOCH, Alert, Firing, Suppression, score_alerts

__all__ = [
    "ALLOWED_FUNCTIONS",
    "DEFAULT_PACK",
    "EPOCH",
    "RULE_KINDS",
    "TREE_LEVEL",
    "Alert",
    "AlertsWritten",
    "DetectionRun",
    "Dialect",
    "DuckDBEngine",
    "Engine",
    "EngineError",
    "Firing",
    "FixtureResult",
    "NeutralQuery",
    "Pack",
    "PackSpec",
    "Rule",
    "RuleKind",
    "RuleSpec",
    "RunState",
    "Selection",
    "Severity",
    "Since",
    "Suppression",
    "Usage",
    "Watch",
    "WorldTables",
    "add_suppression",
    "basis",
    "builtin_packs",
    "builtin_policy_names",
    "compile_sql",
    "create_engine",
    "fixture_table",
    "load_pack",
    "load_rule",
    "parse_rule",
    "read_alerts",
    "read_state",
    "read_suppressions",
    "run_fixtures",
    "run_pack",
    "run_rules",
    "score_alerts",
    "write_alerts",
    "write_state",
]
