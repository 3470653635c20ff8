"""Synth per deploy Region: every pair AWS documents synthesizes cdk-nag clean where it is offered, is refused
elsewhere with one message, and IAM grants exactly the deployment's allowed pairs.

jsii makes each synth cost seconds, so one app per Region carries every pair offered there (the Region's default
as the configured pair, the others in allowedModelPairs), all synthesized in this process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from bedrock_distill.catalog import CATALOG_FILE, REGION_DEFAULTS, ModelPair, offered_pairs, offered_regions
from stacks.app_builder import build_app
from stacks.config import STACK_ID, ConfigurationError
from tests.infra.conftest import CloudAssembly, as_list, default_context, render, run_app
from tests.infra.test_compliance import _violations_in_reports

pytestmark = pytest.mark.infra

PARTITION = "arn:${AWS::Partition}"
BEDROCK = f"{PARTITION}:bedrock:${{AWS::Region}}:${{AWS::AccountId}}"
# The documented Nova configuration the issue names: a profile-only teacher, its student with the suffix.
NOVA_PREMIER = ModelPair("us.amazon.nova-premier-v1:0", "amazon.nova-lite-v1:0:300k")
# Every Region a US cross-Region profile routes to from us-east-1 and us-west-2 (user guide: supported cross-Region
# inference profiles), written out so the template is checked against the page, not against the catalog code.
US_PROFILE_DESTINATIONS = ("us-east-1", "us-east-2", "us-west-2")


def _synthesize(outdir: Path, region: str, context: dict[str, Any]) -> CloudAssembly:
    app = App(outdir=str(outdir), context={**default_context(), **context})
    build_app(app, variables={"CDK_DEFAULT_REGION": region})
    app.synth()
    template = json.loads((outdir / f"{STACK_ID}.template.json").read_text())
    return CloudAssembly(outdir=outdir, template=template, context={**default_context(), **context})


def _everything_offered_in(region: str) -> dict[str, Any]:
    """The Region's default as the configured pair (cdk.json leaves it empty), every other pair allowed too."""
    default = REGION_DEFAULTS[region]
    others = [{"teacher": p.teacher, "student": p.student} for p in offered_pairs(region) if p != default]
    return {"allowedModelPairs": others}


@pytest.fixture(scope="module")
def per_region(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CloudAssembly]:
    return {
        region: _synthesize(tmp_path_factory.mktemp(f"cdk.out.{region}"), region, _everything_offered_in(region))
        for region in offered_regions()
    }


@pytest.fixture(scope="module")
def nova_premier(tmp_path_factory: pytest.TempPathFactory) -> CloudAssembly:
    context = {"teacherModelId": NOVA_PREMIER.teacher, "studentModelId": NOVA_PREMIER.student}
    return _synthesize(tmp_path_factory.mktemp("cdk.out.nova-premier"), "us-east-1", context)


def _policy_statements(assembly: CloudAssembly, logical_id_prefix: str) -> list[dict[str, Any]]:
    return [
        render(statement)
        for logical_id, policy in assembly.of_type("AWS::IAM::Policy").items()
        if logical_id.startswith(logical_id_prefix)
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    ]


def _resources(statements: list[dict[str, Any]], action: str) -> set[str]:
    return {r for s in statements if action in as_list(s["Action"]) for r in as_list(s["Resource"])}


def _expected_teacher_arns(teacher: str, region: str) -> set[str]:
    if teacher.startswith("us."):
        model = teacher.removeprefix("us.")
        profile = {f"{BEDROCK}:inference-profile/{teacher}"}
        return profile | {f"{PARTITION}:bedrock:{r}::foundation-model/{model}" for r in US_PROFILE_DESTINATIONS}
    return {f"{PARTITION}:bedrock:${{AWS::Region}}::foundation-model/{teacher}"}


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_every_pair_offered_in_a_region_synthesizes_nag_clean_there(
    per_region: dict[str, CloudAssembly], region: str
) -> None:
    # Given an app for the Region allowing every pair the user guide offers there
    assembly = per_region[region]
    assert {ModelPair(**p) for p in _everything_offered_in(region)["allowedModelPairs"]} | {
        REGION_DEFAULTS[region]
    } == set(offered_pairs(region))
    # Then it synthesized with no cdk-nag finding of any severity
    assert _violations_in_reports(assembly.outdir) == []


def test_the_documented_nova_configuration_synthesizes_nag_clean(nova_premier: CloudAssembly) -> None:
    # Given teacher us.amazon.nova-premier-v1:0 (an inference profile) and student amazon.nova-lite-v1:0:300k in
    # us-east-1: before, cdk-nag stopped it (AwsSolutions-IAM5 on the teacher's foundation-model/* wildcard)
    assert _violations_in_reports(nova_premier.outdir) == []
    # Then the service role names the profile and the model in each Region the profile routes to, and no wildcard
    invoked = _resources(_policy_statements(nova_premier, "DistillationServiceRole"), "bedrock:InvokeModel")
    assert invoked == {
        f"{BEDROCK}:inference-profile/us.amazon.nova-premier-v1:0",
        f"{PARTITION}:bedrock:us-east-1::foundation-model/amazon.nova-premier-v1:0",
        f"{PARTITION}:bedrock:us-east-2::foundation-model/amazon.nova-premier-v1:0",
        f"{PARTITION}:bedrock:us-west-2::foundation-model/amazon.nova-premier-v1:0",
    }


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_iam_grants_exactly_the_allowed_pairs(per_region: dict[str, CloudAssembly], region: str) -> None:
    assembly = per_region[region]
    pairs = offered_pairs(region)
    # The CreateJob function may create jobs on each allowed student, and on nothing else of Bedrock's models
    create_job = _resources(
        _policy_statements(assembly, "PipelineCreateJobRole"), "bedrock:CreateModelCustomizationJob"
    )
    assert create_job == {
        f"{BEDROCK}:model-customization-job/*",
        f"{BEDROCK}:custom-model/*",
        *{f"{PARTITION}:bedrock:${{AWS::Region}}::foundation-model/{p.student}" for p in pairs},
    }
    # The service role may invoke each allowed teacher: a model here, or a profile and its model in each Region
    invoked = _resources(_policy_statements(assembly, "DistillationServiceRole"), "bedrock:InvokeModel")
    assert invoked == {arn for p in pairs for arn in _expected_teacher_arns(p.teacher, region)}
    # And every function knows the same list, the configured pair first
    (create_job_function,) = [
        f for name, f in assembly.of_type("AWS::Lambda::Function").items() if name.startswith("PipelineCreateJob")
    ]
    listed = json.loads(create_job_function["Properties"]["Environment"]["Variables"]["ALLOWED_MODEL_PAIRS"])
    assert ModelPair(**listed[0]) == REGION_DEFAULTS[region]
    assert {ModelPair(**p) for p in listed} == set(pairs)


def test_the_service_role_reads_writes_and_lists_the_output_prefix_only(per_region: dict[str, CloudAssembly]) -> None:
    # AWS's documented service-role policy grants GetObject, PutObject and ListBucket on the output location
    assembly = per_region["us-west-2"]
    (outputs,) = [name for name in assembly.of_type("AWS::S3::Bucket") if name.startswith("BucketsOutputs")]
    grants = {
        (action, resource, json.dumps(s.get("Condition"), sort_keys=True))
        for s in _policy_statements(assembly, "DistillationServiceRole")
        for action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
        if resource.startswith(f"${{{outputs}.Arn}}")
    }
    assert grants == {
        ("s3:GetObject", f"${{{outputs}.Arn}}/jobs/*", "null"),
        ("s3:PutObject", f"${{{outputs}.Arn}}/jobs/*", "null"),
        ("s3:ListBucket", f"${{{outputs}.Arn}}", json.dumps({"StringLike": {"s3:prefix": ["jobs", "jobs/*"]}})),
    }


def test_the_stack_deploys_to_the_environment_the_cdk_cli_names() -> None:
    # Given the variables `cdk deploy --profile ...` sets for the app
    variables = {"CDK_DEFAULT_REGION": "us-east-1", "CDK_DEFAULT_ACCOUNT": "111122223333"}
    # When the app is built
    stack = build_app(App(context=default_context()), variables=variables)
    # Then the stack is bound to that account and Region (not deploy-time tokens)
    assert (stack.region, stack.account) == ("us-east-1", "111122223333")


@pytest.mark.parametrize("pair", sorted(offered_pairs()), ids=str)
def test_a_pair_is_refused_outside_the_region_it_is_offered_in(pair: ModelPair) -> None:
    (offered_in,) = [r for r in offered_regions() if pair in offered_pairs(r)]
    for region in offered_regions():
        if region == offered_in:
            continue
        for context in (
            {"teacherModelId": pair.teacher, "studentModelId": pair.student},
            {"allowedModelPairs": [{"teacher": pair.teacher, "student": pair.student}]},
        ):
            # When the pair is configured, or only allowed, for a Region that does not offer it
            with pytest.raises(ConfigurationError) as raised:
                build_app(App(context={**default_context(), **context}), variables={"CDK_DEFAULT_REGION": region})
            # Then synth stops with one line naming where the pair is offered and what this Region offers
            message = str(raised.value)
            assert f"is offered only in {offered_in}, not in {region}; pairs offered in {region}: " in message
            assert str(REGION_DEFAULTS[region]).split(" -> ")[0] in message
            assert "\n" not in message


@pytest.mark.parametrize(
    ("variables", "context", "expected"),
    [
        (
            {"CDK_DEFAULT_REGION": "us-east-1"},
            {
                "teacherModelId": "meta.llama3-1-70b-instruct-v1:0",
                "studentModelId": "meta.llama3-1-8b-instruct-v1:0:128k",
            },
            "is offered only in us-west-2, not in us-east-1; pairs offered in us-east-1: ",
        ),
        # No Region from the CDK CLI: an AWS SDK Region is not a substitute
        ({"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-west-2"}, {}, "No deploy Region: CDK_DEFAULT_REGION"),
    ],
    ids=["pair-outside-its-region", "no-region"],
)
def test_app_py_refuses_with_one_message_and_no_traceback(
    tmp_path: Path, variables: dict[str, str], context: dict[str, object], expected: str
) -> None:
    result = run_app(tmp_path, context, variables)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / f"{STACK_ID}.template.json").exists()


def test_the_functions_ship_the_catalog_they_read(assembly: CloudAssembly) -> None:
    # Given the code asset every function runs from
    (function_id,) = [n for n in assembly.of_type("AWS::Lambda::Function") if n.startswith("PipelinePreflightFunction")]
    shipped = assembly.asset_dir(function_id) / "bedrock_distill" / "catalog.json"
    # Then AWS's tables travel with the code that reads them at import
    assert shipped.read_bytes() == CATALOG_FILE.read_bytes()
