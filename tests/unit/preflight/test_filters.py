"""requestMetadataFilters: the API's rules, and its semantics against a hand-written truth table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bedrock_distill.preflight import check_filter, filter_matches, parse_filter

pytestmark = pytest.mark.unit


def _base(count: int) -> list[dict[str, Any]]:
    return [{"equals": {f"key{index}": "v"}} for index in range(count)]


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"equals": {"project": "alpha"}}, id="equals"),
        pytest.param({"notEquals": {"project": ""}}, id="not-equals-empty-value"),
        pytest.param({"andAll": _base(1)}, id="and-one"),
        pytest.param({"orAll": _base(16)}, id="or-sixteen"),
        pytest.param({"andAll": [{"equals": {"a": "1"}}, {"notEquals": {"b": "2"}}]}, id="mixed-base-filters"),
        pytest.param({"equals": {"k" * 256: "v" * 256}}, id="longest-key-and-value"),
        pytest.param({"equals": {"team:ml/x=y+z$w@v-u.t_s 1": "a b\tc"}}, id="every-allowed-character"),
    ],
)
def test_filters_bedrock_accepts_have_no_violations(document: dict[str, Any]) -> None:
    # Given a filter within every rule, When it is checked, Then nothing is reported
    assert check_filter(document) == []


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [
        pytest.param([], "$", "must be an object", id="not-an-object"),
        pytest.param({}, "$", "needs exactly one operator", id="no-operator"),
        pytest.param(
            {"equals": {"a": "1"}, "orAll": _base(1)}, "$", "exactly one operator per filter", id="two-operators"
        ),
        pytest.param({"contains": {"a": "1"}}, "contains", "unknown operator", id="unknown-operator"),
        pytest.param({"equals": {}}, "equals", "exactly one key-value entry, got 0", id="equals-empty"),
        pytest.param({"equals": {"a": "1", "b": "2"}}, "equals", "got 2", id="equals-two-entries"),
        pytest.param({"notEquals": {"a": "1", "b": "2"}}, "notEquals", "got 2", id="not-equals-two-entries"),
        pytest.param({"equals": "a=1"}, "equals", "must be an object", id="equals-string"),
        pytest.param({"equals": {"a": 1}}, 'equals["a"]', "value must be a string", id="number-value"),
        pytest.param({"equals": {"": "v"}}, 'equals[""]', "key must be 1 to 256 characters, got 0", id="empty-key"),
        pytest.param({"equals": {"k" * 257: "v"}}, f'equals["{"k" * 257}"]', "got 257", id="long-key"),
        pytest.param({"equals": {"k": "v" * 257}}, 'equals["k"]', "at most 256 characters, got 257", id="long-value"),
        pytest.param({"equals": {"a#b": "v"}}, 'equals["a#b"]', "key may contain only", id="hash-in-key"),
        pytest.param({"equals": {"k": "a,b"}}, 'equals["k"]', "value may contain only", id="comma-in-value"),
        pytest.param({"equals": {"k": "caf\u00e9"}}, 'equals["k"]', "value may contain only", id="non-ascii"),
        pytest.param({"equals": {"k": "a\u00a0b"}}, 'equals["k"]', "value may contain only", id="unicode-space"),
        pytest.param({"andAll": []}, "andAll", "1 to 16 base filters, got 0", id="and-empty"),
        pytest.param({"orAll": _base(17)}, "orAll", "1 to 16 base filters, got 17", id="or-seventeen"),
        pytest.param({"andAll": {"equals": {"a": "1"}}}, "andAll", "must be a list", id="and-object"),
        pytest.param({"andAll": ["a"]}, "andAll[0]", "must be an object", id="and-item-string"),
        pytest.param({"andAll": [{}]}, "andAll[0]", "got 0", id="and-item-empty"),
        pytest.param(
            {"orAll": [{"equals": {"a": "1"}, "notEquals": {"b": "2"}}]}, "orAll[0]", "got 2", id="item-two-operators"
        ),
        pytest.param({"andAll": [{"orAll": _base(1)}]}, "andAll[0].orAll", "cannot be nested", id="nested"),
        pytest.param(
            {"andAll": [{"equals": {"a": "1", "b": "2"}}]}, "andAll[0].equals", "got 2", id="item-two-entries"
        ),
    ],
)
def test_each_violation_has_its_path_and_reason(document: object, field: str, reason: str) -> None:
    # Given a filter that breaks one rule, When it is checked
    violations = check_filter(document)

    # Then that rule is reported at its path
    assert any(v.field == field and reason in v.reason for v in violations), violations


def test_awss_sample_with_a_repeated_equals_is_rejected_not_collapsed() -> None:
    # Given the shape of AWS's sample: one object with "equals" written twice
    text = '{"andAll": [{"equals": {"priority": "High"}, "equals": {"project": "CustomerService"}}]}'

    # When it is parsed and checked
    document, violations = parse_filter(text)

    # Then the repeat is a violation, though a plain parser would have kept only the last entry
    assert json.loads(text) == {"andAll": [{"equals": {"project": "CustomerService"}}]}
    assert [(v.field, v.reason) for v in violations] == [
        ("andAll[0].equals", "duplicate key: JSON keeps only the last value, so the others would be lost")
    ]
    assert document is not None


def test_repeated_keys_are_caught_at_any_depth() -> None:
    # Given repeats at the top level and inside the map that is kept (the last one)
    _, violations = parse_filter('{"equals": {"b": "3"}, "equals": {"a": "1", "a": "2"}}')

    # Then both are reported where they occur
    assert {v.field for v in violations if "duplicate key" in v.reason} == {"equals", "equals.a"}


def test_text_that_is_not_json_is_one_violation() -> None:
    document, violations = parse_filter("{equals: x}")
    assert document is None
    assert [v.field for v in violations] == ["$"]
    assert violations[0].reason.startswith("not valid JSON")


# Metadata rows for the truth table.
ALPHA_HIGH = {"project": "alpha", "priority": "high"}
ALPHA = {"project": "alpha"}
BETA_LOW = {"project": "beta", "priority": "low"}
UPPER = {"project": "Alpha"}
NONE: dict[str, str] = {}
ROWS = [ALPHA_HIGH, ALPHA, BETA_LOW, UPPER, NONE]

# Each filter with the expected match for each row, in ROWS order, worked out by hand.
TRUTH_TABLE = [
    ({"equals": {"project": "alpha"}}, [True, True, False, False, False]),
    ({"notEquals": {"project": "alpha"}}, [False, False, True, True, True]),  # absent key matches
    ({"equals": {"priority": ""}}, [False, False, False, False, False]),  # empty is not absent
    ({"notEquals": {"priority": "high"}}, [False, True, True, True, True]),
    (
        {"andAll": [{"equals": {"project": "alpha"}}, {"equals": {"priority": "high"}}]},
        [True, False, False, False, False],
    ),
    (
        {"andAll": [{"equals": {"project": "alpha"}}, {"notEquals": {"priority": "high"}}]},
        [False, True, False, False, False],
    ),
    ({"orAll": [{"equals": {"project": "beta"}}, {"equals": {"priority": "high"}}]}, [True, False, True, False, False]),
    ({"orAll": [{"notEquals": {"project": "alpha"}}]}, [False, False, True, True, True]),
    ({"orAll": [{"equals": {"project": "gamma"}}, {"equals": {"team": "x"}}]}, [False, False, False, False, False]),
]


@pytest.mark.parametrize(("document", "expected"), TRUTH_TABLE, ids=[json.dumps(f) for f, _ in TRUTH_TABLE])
def test_filter_semantics_match_the_truth_table(document: dict[str, Any], expected: list[bool]) -> None:
    # Given a valid filter, When it is applied to each metadata row, Then it matches as worked out by hand
    assert check_filter(document) == []
    assert [filter_matches(document, row) for row in ROWS] == expected
