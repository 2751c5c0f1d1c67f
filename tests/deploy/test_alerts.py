"""deploy/prometheus/alerts.yml is a Prometheus rule file: groups of uniquely named alerts, each with a PromQL
expression (parsed by promql-parser, the Rust parser of PromQL), a duration, a severity and its summary and
description for the operator; and it watches the metrics docs/operations.md names."""

from __future__ import annotations

import re
from typing import Any

import promql_parser
import pytest
import yaml

from tests.deploy.conftest import ROOT

ALERTS = ROOT / "deploy/prometheus/alerts.yml"
DURATION = re.compile(r"^(\d+[smhdwy])+$")


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_the_file_is_a_rule_file() -> None:
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"}
    names = [group["name"] for group in document["groups"]]
    assert len(names) == len(set(names))
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"} and group["rules"]


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: str(rule["alert"]))
def test_each_alert_is_complete_and_its_expression_is_promql(rule: dict[str, Any]) -> None:
    assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
    assert re.fullmatch(r"Engagements[A-Z][A-Za-z]+", str(rule["alert"]))
    assert DURATION.match(str(rule["for"]))
    assert rule["labels"] == {"severity": "warning"} or rule["labels"] == {"severity": "critical"}
    assert set(rule["annotations"]) == {"summary", "description"}
    promql_parser.parse(str(rule["expr"]))


def test_a_broken_expression_is_refused() -> None:
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(engagements_http_requests_total[5m]) by (service)")


def test_the_alerts_are_unique_and_cover_the_documented_metrics() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    expressions = " ".join(str(rule["expr"]) for rule in rules())
    operations = (ROOT / "docs/operations.md").read_text()
    for metric in sorted(set(re.findall(r"\bengagements_[a-z_]+\b", expressions))):
        assert re.sub(r"_bucket$", "", metric) in operations, (
            f"{metric} is not described in docs/operations.md"
        )
    for metric in (
        "engagements_http_requests_total",
        "engagements_outbox_unpublished_events",
        "engagements_outbox_oldest_unpublished_age_seconds",
        "engagements_consumer_pending_messages",
        "engagements_reminders_sent_total",
        "engagements_reminders_failed_total",
        "engagements_webhook_failures_total",
    ):
        assert metric in expressions, metric
