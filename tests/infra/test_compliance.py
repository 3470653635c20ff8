"""cdk-nag and cfn-lint over the synthesized app."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Validations
from cfnlint.api import ManualArgs, lint_file
from constructs import IConstruct

from stacks.config import STACK_ID
from tests.infra.conftest import CloudAssembly

pytestmark = pytest.mark.infra

NAG_PLUGINS = {"AwsSolutions", "Serverless"}
# A finding id names one rule, or one finding of a granular rule: "AwsSolutions-IAM5[Resource::*]".
SPECIFIC_FINDING = re.compile(r"^(AwsSolutions|Serverless)-[A-Za-z0-9]+(\[[^\]]+\])?$")
# cfn-lint warnings that CDK itself emits and we cannot change; anything else must be fixed.
CFN_LINT_WARNINGS_FROM_CDK = {
    "W3005": "CDK adds DependsOn on a Lambda's role although a GetAtt already orders them",
}


def _nag_violations(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            plugin["pluginName"] if "pluginName" in plugin else plugin["summary"]["pluginName"],
            v["ruleName"],
            path,
        )
        for plugin in report["pluginReports"]
        for v in plugin["violations"]
        for path in _violating_paths(v)
    ]


def _violations_in_reports(outdir: Path) -> list[tuple[str, str, str]]:
    """Violations in CDK's validation reports (the policy-validation copy and the assembly's own)."""
    reports = [outdir / "policy-validation-report.json", outdir / "validation-report.json"]
    present = [json.loads(path.read_text()) for path in reports if path.exists()]
    assert present, f"no validation report in {outdir}"
    return sorted({violation for report in present for violation in _nag_violations(report)})


def _violating_paths(violation: dict[str, Any]) -> list[str]:
    resources = violation.get("violatingResources") or violation.get("violatingConstructs") or []
    return [r["constructPath"] for r in resources]


def _acknowledgements(scope: IConstruct) -> list[tuple[str, str, str]]:
    """(construct path, finding id, reason) for every acknowledgement in the tree."""
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = []
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key:
                for finding_id, reason in entry.data.items():
                    found.append((construct.node.path, finding_id, str(reason)))
    return found


def test_synth_has_no_unacknowledged_nag_findings_errors_or_warnings(assembly: CloudAssembly) -> None:
    # Given the app synthesized with AwsSolutions and Serverless packs registered
    # When we collect every violation any plugin reported, whatever its severity
    violations = _violations_in_reports(assembly.outdir)
    # Then there are none
    assert violations == []


def test_every_acknowledgement_is_still_needed_and_names_one_finding(
    assembly: CloudAssembly, unacknowledged_app: tuple[App, Path]
) -> None:
    # Given the same app synthesized without our acknowledgements
    app, outdir = unacknowledged_app
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    violations = _violations_in_reports(outdir)
    findings = {(rule, path) for plugin, rule, path in violations if plugin in NAG_PLUGINS}
    assert {plugin for plugin, _, _ in violations} == NAG_PLUGINS, "both packs ran, nothing else failed"
    # When we compare them with what the real app acknowledges
    from stacks.app_builder import build_app  # noqa: PLC0415 - a fresh app tree to read metadata from

    acknowledged_app = App(outdir=str(outdir.parent / "acknowledged-tree"), context=assembly.context)
    stack = build_app(acknowledged_app)
    acknowledgements = _acknowledgements(stack)
    # Then every acknowledgement is one specific finding with a reason, on a construct at or above it
    assert acknowledgements, "the app acknowledges its reviewed findings"
    for path, finding_id, reason in acknowledgements:
        rule = finding_id.split("::", 1)[-1]
        assert SPECIFIC_FINDING.fullmatch(rule), finding_id
        assert len(reason) >= 60, f"{finding_id} needs a real reason: {reason!r}"
        assert path != STACK_ID, f"{finding_id} is acknowledged stack-wide; acknowledge the one construct"
        matching = {(r, p) for r, p in findings if r == rule and (p == path or p.startswith(f"{path}/"))}
        assert matching, f"{finding_id} on {path} acknowledges nothing nag reports: remove it"
    # And every finding nag reports without them is covered by exactly one acknowledgement
    for rule, path in findings:
        covering = [a for a in acknowledgements if a[1].split("::", 1)[-1] == rule and path.startswith(a[0])]
        assert len(covering) == 1, (rule, path)


def test_cfn_lint_reports_no_errors(assembly: CloudAssembly) -> None:
    # Given the synthesized template
    template = assembly.outdir / f"{STACK_ID}.template.json"
    # When cfn-lint checks it for the Regions where distillation is offered
    matches = lint_file(template, config=ManualArgs(regions=["us-east-1", "us-west-2", "eu-central-1"]))
    # Then nothing is an error, and the only warnings are the ones CDK generates
    findings = [(m.rule.id, m.message) for m in matches]
    assert [f for f in findings if f[0].startswith("E")] == []
    assert [f for f in findings if f[0] not in CFN_LINT_WARNINGS_FROM_CDK and not f[0].startswith("I")] == []
