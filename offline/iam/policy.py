"""Identity-based policy evaluation, as the IAM user guide documents it.

Sources: "Policy evaluation logic" (an explicit Deny wins; otherwise an Allow is needed; otherwise the
request is implicitly denied), "IAM JSON policy elements: Action / NotAction / Resource / NotResource"
(wildcards `*` and `?`; actions match case-insensitively, resources case-sensitively) and "IAM JSON policy
elements: Condition operators" together with "Conditions with multiple context keys or values":

- operators AND together, keys within an operator AND together, values of one key OR together (NOR for a
  negated operator);
- a key missing from the request context makes a condition false, but true for a negated operator
  (StringNotEquals, StringNotLike, ArnNotEquals, ArnNotLike, ...);
- `...IfExists` is true when the key is missing; `Null` tests presence;
- `ForAllValues:` is true when every request value matches (and when the key is missing or empty);
  `ForAnyValue:` needs at least one request value to match.

Only the operators this project's policies use (and their documented relatives) are implemented; any other
operator, or a policy variable, raises `UnsupportedPolicyError` instead of being guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

ContextValue = str | Sequence[str]


class UnsupportedPolicyError(ValueError):
    """A policy element this evaluator does not implement: fail loudly rather than allow or deny by guess."""


class Decision(StrEnum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Request:
    """One authorization: an action on one resource, with the request context's condition keys."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@cache
def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    if "${" in pattern:
        raise UnsupportedPolicyError(f"policy variables are not supported: {pattern!r}")
    expression = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(expression, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _wildcard(pattern, ignore_case=ignore_case).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _arn_like(pattern: str, value: str) -> bool:
    # ArnLike compares each of the six colon-separated ARN parts; the resource part may itself hold colons.
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(wildcard_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _bool(pattern: str, value: str) -> bool:
    return pattern.lower() == value.lower()


# operator -> (how one policy value matches one request value, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (wildcard_match, False),
    "StringNotLike": (wildcard_match, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
}


def _condition_holds(operator: str, key: str, policy_values: list[str], context: Mapping[str, ContextValue]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise UnsupportedPolicyError(f"unknown condition set operator {qualifier!r}")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    present = key in context
    if base == "Null":
        if qualifier or if_exists:
            raise UnsupportedPolicyError(f"{operator} is not a valid condition operator")
        expect_missing = {str(v).lower() for v in policy_values}
        if expect_missing - {"true", "false"}:
            raise UnsupportedPolicyError(f"Null takes true or false, got {policy_values}")
        return all((value == "true") == (not present) for value in expect_missing)
    if base not in _OPERATORS:
        raise UnsupportedPolicyError(f"condition operator {operator!r} is not implemented")
    matches, negated = _OPERATORS[base]
    patterns = [str(value) for value in policy_values]
    values = [str(value) for value in _as_list(context[key])] if present else []
    if qualifier == "ForAllValues":
        return all(any(matches(p, v) for p in patterns) != negated for v in values)
    if qualifier == "ForAnyValue":
        return any(any(matches(p, v) for p in patterns) != negated for v in values)
    if not present:
        return if_exists or negated
    if negated:
        return not any(matches(p, v) for p in patterns for v in values)
    return any(matches(p, v) for p in patterns for v in values)


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, ContextValue]) -> bool:
    return all(
        _condition_holds(operator, key, _as_list(values), context)
        for operator, keys in condition.items()
        for key, values in keys.items()
    )


def _statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if ("Action" in statement) == ("NotAction" in statement):
        raise UnsupportedPolicyError(f"a statement needs exactly one of Action or NotAction: {statement}")
    if ("Resource" in statement) == ("NotResource" in statement):
        raise UnsupportedPolicyError(f"an identity statement needs exactly one of Resource or NotResource: {statement}")
    if "Principal" in statement or "NotPrincipal" in statement:
        raise UnsupportedPolicyError("Principal belongs in resource-based policies, not in a role's policies")
    actions = _as_list(statement.get("Action", statement.get("NotAction")))
    action_listed = any(wildcard_match(str(a), request.action, ignore_case=True) for a in actions)
    if action_listed == ("NotAction" in statement):
        return False
    resources = _as_list(statement.get("Resource", statement.get("NotResource")))
    resource_listed = any(wildcard_match(str(r), request.resource) for r in resources)
    if resource_listed == ("NotResource" in statement):
        return False
    return conditions_hold(statement.get("Condition", {}), request.context)


def statements(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [statement for document in documents for statement in _as_list(document.get("Statement", []))]


@dataclass(frozen=True)
class Grant:
    """One action entry of one Allow statement: the smallest thing a policy author can take away."""

    statement: int  # index among the principal's statements, in policy order
    action: str


def explain(documents: Iterable[Mapping[str, Any]], request: Request) -> tuple[Decision, frozenset[Grant]]:
    """The decision of a principal's identity-based policies (same account, no boundary, no SCP), and every
    grant that allows the request: when only one does, taking it away denies the request."""
    grants: set[Grant] = set()
    for index, statement in enumerate(statements(documents)):
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise UnsupportedPolicyError(f"Effect must be Allow or Deny, got {effect!r}")
        if not _statement_applies(statement, request):
            continue
        if effect == "Deny":
            return Decision.EXPLICIT_DENY, frozenset()
        if "Action" in statement:
            listed = [str(action) for action in _as_list(statement["Action"])]
            grants |= {Grant(index, a) for a in listed if wildcard_match(a, request.action, ignore_case=True)}
        else:
            grants.add(Grant(index, "NotAction"))
    return (Decision.ALLOW if grants else Decision.IMPLICIT_DENY), frozenset(grants)


def evaluate(documents: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    return explain(documents, request)[0]
