"""The deployment's invocation-log scope: the records every run from invocation logs is confined to.

Model-invocation logging is account-wide, so without a scope a run's `requestMetadataFilters` may select any
team's records. The scope (`invocationLogScope` in cdk.json) is a map of request-metadata key -> value that
every selected record must carry; a run's own filter is ANDed with it and may only narrow it.

Bedrock's filter (botocore `bedrock` model, RequestMetadataFilters) is one of `equals`, `notEquals`, `andAll`
or `orAll`, where `andAll`/`orAll` hold 1-16 RequestMetadataBaseFilters (`equals` or `notEquals` only): it
cannot nest, so "scope AND (a OR b)" has no form. Such a run is refused rather than sent unscoped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bedrock_distill.preflight.filters import MAX_BASE_FILTERS, Violation, check_filter


def describe_scope(scope: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in scope.items())


def located(prefix: str, violation: Violation) -> str:
    """The violation named under the filter's own field (`filter`, `input....requestMetadataFilters`)."""
    field = prefix if violation.field == "$" else f"{prefix}.{violation.field}"
    return f"{field}: {violation.reason}"


def scope_filter(scope: Mapping[str, str]) -> dict[str, Any] | None:
    """The scope alone as a RequestMetadataFilters; None for no scope (the whole account's logs)."""
    return _one_filter([{"equals": {key: value}} for key, value in scope.items()])


def scoped_filter(
    run_filter: Mapping[str, Any] | None, scope: Mapping[str, str]
) -> tuple[dict[str, Any] | None, list[Violation]]:
    """The effective filter of a run: `run_filter` AND the scope, and why it cannot be, each violation's field
    relative to the run's filter (`equals.project`). Without a scope, the run's filter as given."""
    if not scope:
        return (dict(run_filter) if run_filter is not None else None), []
    if run_filter is None:
        return scope_filter(scope), []
    if violations := check_filter(run_filter):
        return None, violations
    confined = f"this deployment confines runs to {describe_scope(scope)}"
    if "orAll" in run_filter:
        return None, [
            Violation(
                "orAll",
                f"{confined}, and Bedrock's requestMetadataFilters cannot AND a scope with orAll (andAll and orAll do "
                "not nest): select with equals, notEquals or andAll, or start one run per alternative",
            )
        ]
    if "andAll" in run_filter:
        paths_and_bases = [(f"andAll[{index}].", base) for index, base in enumerate(run_filter["andAll"])]
    else:
        paths_and_bases = [("", dict(run_filter))]
    violations = []
    for path, base in paths_and_bases:
        ((operator, entry),) = base.items()
        ((key, value),) = entry.items()
        if key not in scope:
            continue
        if operator == "equals" and value != scope[key]:
            violations.append(Violation(f"{path}equals.{key}", f"this deployment confines runs to {key}={scope[key]}"))
        if operator == "notEquals" and value == scope[key]:
            violations.append(
                Violation(
                    f"{path}notEquals.{key}",
                    f"this deployment confines runs to {key}={scope[key]}, so this would select no record",
                )
            )
    scope_bases = [{"equals": {key: value}} for key, value in scope.items()]
    combined = scope_bases + [base for _, base in paths_and_bases if base not in scope_bases]
    if len(combined) > MAX_BASE_FILTERS:
        violations.append(
            Violation(
                "andAll" if "andAll" in run_filter else "(filter)",
                f"with this deployment's {len(scope)} scope condition(s) the filter would hold {len(combined)} "
                f"conditions; Bedrock's andAll holds at most {MAX_BASE_FILTERS}",
            )
        )
    if violations:
        return None, violations
    return _one_filter(combined), []


def _one_filter(bases: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not bases:
        return None
    return bases[0] if len(bases) == 1 else {"andAll": bases}
