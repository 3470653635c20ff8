"""Security properties of the synthesized stack, asserted on the template an operator would deploy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import CloudAssembly, as_list, render

pytestmark = pytest.mark.infra

ACCOUNT = "${AWS::AccountId}"
BEDROCK_SOURCE_ARN_ANY = f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}:{ACCOUNT}:*"
BEDROCK_JOB_SOURCE_ARN = f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}:{ACCOUNT}:model-customization-job/*"
BEDROCK_EVALUATION_SOURCE_ARN = f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}:{ACCOUNT}:evaluation-job/*"

# The only actions that may be granted on "Resource": "*", each with the reason it cannot be narrower.
WILDCARD_RESOURCE_ALLOWED = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions (active tracing)",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions (active tracing)",
    "bedrock:GetModelInvocationLoggingConfiguration": "the account's one logging setting has no resource type",
    "bedrock:PutModelInvocationLoggingConfiguration": "the account's one logging setting has no resource type",
    "bedrock:DeleteModelInvocationLoggingConfiguration": "the account's one logging setting has no resource type",
    "xray:GetSamplingRules": "X-Ray has no resource-level permissions (state machine tracing)",
    "bedrock:ListProvisionedModelThroughputs": "List actions have no resource type; the cleanup filters by tags",
    "bedrock:ListModelCustomizationJobs": "List actions have no resource type; the cleanup filters by tags",
    "bedrock:ListCustomModelDeployments": "List actions have no resource type; the cleanup filters by tags",
    "bedrock:ListEvaluationJobs": "No resource type; the cleanup filters by tags, a retried create by its job name",
    "xray:GetSamplingTargets": "X-Ray has no resource-level permissions (state machine tracing)",
    **{
        f"logs:{action}": "Step Functions logs through vended log delivery, which has no resource-level permissions"
        for action in (
            "CreateLogDelivery",
            "GetLogDelivery",
            "UpdateLogDelivery",
            "DeleteLogDelivery",
            "ListLogDeliveries",
            "PutResourcePolicy",
            "DescribeResourcePolicies",
            "DescribeLogGroups",
        )
    },
}
# In a key policy, "Resource": "*" means the key itself; these are the grants it may carry.
KEY_POLICY_ACTIONS_ALLOWED = {
    "kms:*": "the account root administers its key (CDK's default key policy)",
    "kms:Encrypt*": "CloudWatch Logs encrypts this account's log groups",
    "kms:Decrypt*": "CloudWatch Logs reads this account's log groups",
    "kms:ReEncrypt*": "CloudWatch Logs re-encrypts on key rotation",
    "kms:GenerateDataKey*": "CloudWatch Logs encrypts log events",
    "kms:Describe*": "CloudWatch Logs checks the key",
    "kms:GenerateDataKey": "Bedrock's invocation-log delivery writes SSE-KMS objects",
    "kms:Decrypt": "CloudWatch alarms publish to the encrypted outcome topic (with kms:GenerateDataKey*)",
}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [render(statement) for statement in as_list(document["Statement"])]


def _bucket_logical_id(assembly: CloudAssembly, construct_id: str) -> str:
    (logical_id,) = [name for name in assembly.of_type("AWS::S3::Bucket") if name.startswith(f"Buckets{construct_id}")]
    return logical_id


def _policy_of_role(assembly: CloudAssembly, role_prefix: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in assembly.of_type("AWS::IAM::Policy").values():
        roles = [render(role) for role in policy["Properties"]["Roles"]]
        if any(role.startswith(f"${{{role_prefix}") for role in roles):
            statements += _statements(policy["Properties"]["PolicyDocument"])
    return statements


def test_distillation_role_is_trusted_only_by_bedrock_jobs_of_this_account(assembly: CloudAssembly) -> None:
    # Given the distillation service role
    (role,) = [
        r for name, r in assembly.of_type("AWS::IAM::Role").items() if name.startswith("DistillationServiceRole")
    ]
    # When we read its trust policy
    (statement,) = _statements(role["Properties"]["AssumeRolePolicyDocument"])
    # Then only bedrock.amazonaws.com may assume it, and only for this account's customization jobs
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": BEDROCK_JOB_SOURCE_ARN},
    }
    assert "ManagedPolicyArns" not in role["Properties"]


def test_invocation_log_bucket_policy_lets_bedrock_write_only_its_log_prefix(assembly: CloudAssembly) -> None:
    # Given the invocation-log bucket and its policy
    bucket = _bucket_logical_id(assembly, "InvocationLogs")
    prefix = assembly.context["invocationLogPrefix"]
    (policy,) = [
        p
        for p in assembly.of_type("AWS::S3::BucketPolicy").values()
        if render(p["Properties"]["Bucket"]) == f"${{{bucket}}}"
    ]
    # When we pick the statements that allow a service principal
    allows = [s for s in _statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Allow"]
    # Then there is exactly one: Bedrock may PutObject under its log layout, from this account only
    assert allows == [
        {
            "Sid": "AllowBedrockInvocationLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"${{{bucket}.Arn}}/{prefix}/AWSLogs/{ACCOUNT}/BedrockModelInvocationLogs/*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": BEDROCK_SOURCE_ARN_ANY},
            },
        }
    ]


def test_every_bucket_denies_requests_without_tls(assembly: CloudAssembly) -> None:
    # Given every bucket in the stack
    buckets = assembly.of_type("AWS::S3::Bucket")
    assert buckets, "the stack has buckets"
    policies = {render(p["Properties"]["Bucket"]): p for p in assembly.of_type("AWS::S3::BucketPolicy").values()}
    for bucket in buckets:
        # When we read the policy attached to it
        statements = _statements(policies[f"${{{bucket}}}"]["Properties"]["PolicyDocument"])
        # Then it denies every S3 action on the bucket and its objects to anyone not using TLS
        assert {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Resource": [f"${{{bucket}.Arn}}", f"${{{bucket}.Arn}}/*"],
        } in statements, bucket


def test_every_bucket_is_private_encrypted_versioned_and_retained(assembly: CloudAssembly) -> None:
    for name, bucket in assembly.of_type("AWS::S3::Bucket").items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}, name
        (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"aws:kms", "AES256"}, name
        assert bucket["DeletionPolicy"] == "Retain", name


def test_data_buckets_use_the_project_key_and_log_access(assembly: CloudAssembly) -> None:
    access_logs = _bucket_logical_id(assembly, "AccessLogs")
    for construct_id in ("InvocationLogs", "Inputs", "Outputs"):
        properties = assembly.resources[_bucket_logical_id(assembly, construct_id)]["Properties"]
        (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert render(encryption["ServerSideEncryptionByDefault"]) == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": "${EncryptionKey3A692D6E.Arn}",
        }
        assert encryption["BucketKeyEnabled"] is True
        assert render(properties["LoggingConfiguration"]) == {
            "DestinationBucketName": f"${{{access_logs}}}",
            "LogFilePrefix": f"{construct_id}/",
        }


def test_invocation_logs_expire_after_the_configured_days(assembly: CloudAssembly) -> None:
    properties = assembly.resources[_bucket_logical_id(assembly, "InvocationLogs")]["Properties"]
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Prefix"] == f"{assembly.context['invocationLogPrefix']}/"
    assert rule["ExpirationInDays"] == assembly.context["invocationLogExpirationDays"]


def test_key_rotates_and_grants_bedrock_only_a_data_key_from_this_account(assembly: CloudAssembly) -> None:
    (key,) = assembly.of_type("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    bedrock_statements = [
        s
        for s in _statements(key["Properties"]["KeyPolicy"])
        if s.get("Principal") == {"Service": "bedrock.amazonaws.com"}
    ]
    assert bedrock_statements == [
        {
            "Sid": "AllowBedrockInvocationLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "kms:GenerateDataKey",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": BEDROCK_SOURCE_ARN_ANY},
            },
        }
    ]


def test_distillation_role_touches_exactly_its_s3_prefixes(assembly: CloudAssembly) -> None:
    # Given the distillation role's permissions
    statements = _policy_of_role(assembly, "DistillationServiceRole")
    inputs = _bucket_logical_id(assembly, "Inputs")
    logs = _bucket_logical_id(assembly, "InvocationLogs")
    outputs = _bucket_logical_id(assembly, "Outputs")
    log_prefix = assembly.context["invocationLogPrefix"]
    # When we list every S3 grant as (action, resource, condition)
    s3_grants = {
        (action, resource, repr(statement.get("Condition")))
        for statement in statements
        for action in as_list(statement["Action"])
        if action.startswith("s3:")
        for resource in as_list(statement["Resource"])
    }
    # Then it reads datasets and logs, lists only their prefixes, and reads, writes and lists only job outputs
    # (the output grants of AWS's documented service-role policy, scoped to the output prefix)
    assert s3_grants == {
        ("s3:GetObject", f"${{{inputs}.Arn}}/datasets/*", "None"),
        (
            "s3:ListBucket",
            f"${{{inputs}.Arn}}",
            repr({"StringLike": {"s3:prefix": ["datasets", "datasets/*"]}}),
        ),
        ("s3:GetObject", f"${{{logs}.Arn}}/{log_prefix}/*", "None"),
        (
            "s3:ListBucket",
            f"${{{logs}.Arn}}",
            repr({"StringLike": {"s3:prefix": [log_prefix, f"{log_prefix}/*"]}}),
        ),
        ("s3:GetObject", f"${{{outputs}.Arn}}/jobs/*", "None"),
        ("s3:PutObject", f"${{{outputs}.Arn}}/jobs/*", "None"),
        ("s3:ListBucket", f"${{{outputs}.Arn}}", repr({"StringLike": {"s3:prefix": ["jobs", "jobs/*"]}})),
    }
    assert all(s["Effect"] == "Allow" for s in statements)


def test_distillation_role_invokes_only_the_teacher(assembly: CloudAssembly) -> None:
    statements = _policy_of_role(assembly, "DistillationServiceRole")
    bedrock = [s for s in statements if any(a.startswith("bedrock:") for a in as_list(s["Action"]))]
    # cdk.json leaves the models empty: the deploy Region's (us-west-2) default pair
    teacher = "meta.llama3-1-70b-instruct-v1:0"
    assert bedrock == [
        {
            "Sid": "InvokeAllowedTeachersOnly",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}::foundation-model/{teacher}",
        }
    ]
    other = {a for s in statements for a in as_list(s["Action"])} - {
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "bedrock:InvokeModel",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }
    assert other == set()


def test_distillation_role_uses_the_key_only_through_s3(assembly: CloudAssembly) -> None:
    statements = _policy_of_role(assembly, "DistillationServiceRole")
    (kms,) = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert kms["Resource"] == "${EncryptionKey3A692D6E.Arn}"
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "s3.${AWS::Region}.amazonaws.com"}}


def test_wildcard_resources_appear_only_for_listed_actions(assembly: CloudAssembly) -> None:
    # Given every identity policy in the stack
    offending: list[tuple[str, str]] = []
    for name, policy in assembly.of_type("AWS::IAM::Policy").items():
        for statement in _statements(policy["Properties"]["PolicyDocument"]):
            # When a statement grants on "*"
            if "*" in as_list(statement["Resource"]):
                # Then each of its actions is one we listed with a reason
                offending += [(name, a) for a in as_list(statement["Action"]) if a not in WILDCARD_RESOURCE_ALLOWED]
    for name, role in assembly.of_type("AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in _statements(policy["PolicyDocument"]):
                if "*" in as_list(statement["Resource"]):
                    offending += [(name, a) for a in as_list(statement["Action"])]
    for name, key in assembly.of_type("AWS::KMS::Key").items():
        for statement in _statements(key["Properties"]["KeyPolicy"]):
            offending += [(name, a) for a in as_list(statement["Action"]) if a not in KEY_POLICY_ACTIONS_ALLOWED]
    assert offending == []


def test_no_action_wildcards_outside_the_key_administrator(assembly: CloudAssembly) -> None:
    for policy in assembly.of_type("AWS::IAM::Policy").values():
        for statement in _statements(policy["Properties"]["PolicyDocument"]):
            assert not any(a.endswith("*") for a in as_list(statement["Action"])), statement


def test_functions_write_only_their_own_log_group(assembly: CloudAssembly) -> None:
    statements = _policy_of_role(assembly, "InvocationLoggingHandlerRole")
    (log_grant,) = [s for s in statements if s.get("Sid") == "WriteOwnLogGroup"]
    assert log_grant["Resource"] == "${InvocationLoggingHandlerLogs29E32ACD.Arn}"
    assert sorted(log_grant["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]


def _evaluation_role(assembly: CloudAssembly) -> tuple[str, dict[str, Any]]:
    (found,) = [(n, r) for n, r in assembly.of_type("AWS::IAM::Role").items() if n.startswith("EvaluationServiceRole")]
    return found


def test_evaluation_role_is_trusted_only_by_evaluation_jobs_of_this_account(assembly: CloudAssembly) -> None:
    # Given the evaluation service role (user guide: "Service role requirements for automatic model evaluation jobs")
    _, role = _evaluation_role(assembly)
    # When we read its trust policy
    (statement,) = _statements(role["Properties"]["AssumeRolePolicyDocument"])
    # Then only bedrock.amazonaws.com may assume it, and only for this account's evaluation jobs
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": BEDROCK_EVALUATION_SOURCE_ARN},
    }
    assert "ManagedPolicyArns" not in role["Properties"]


def test_evaluation_role_reads_only_the_judges_datasets_and_writes_only_its_output(assembly: CloudAssembly) -> None:
    # Given the evaluation role's permissions (user guide: "Required service role permissions for creating a model
    # evaluation job that uses a judge model", its S3 actions)
    statements = _policy_of_role(assembly, "EvaluationServiceRole")
    outputs = _bucket_logical_id(assembly, "Outputs")
    datasets, output = "jobs/*/evaluation/datasets", "jobs/*/evaluation/output"
    # When we list every S3 grant as (action, resource, condition)
    s3_grants = {
        (action, resource, repr(statement.get("Condition")))
        for statement in statements
        for action in as_list(statement["Action"])
        if action.startswith("s3:")
        for resource in as_list(statement["Resource"])
    }
    # Then it reads the datasets of each run's folder, reads and writes that folder's evaluation output, lists only
    # those prefixes, and touches no other bucket, no run's other files
    assert s3_grants == {
        ("s3:GetObject", f"${{{outputs}.Arn}}/{datasets}/*", "None"),
        ("s3:GetObject", f"${{{outputs}.Arn}}/{output}/*", "None"),
        ("s3:PutObject", f"${{{outputs}.Arn}}/{output}/*", "None"),
        ("s3:AbortMultipartUpload", f"${{{outputs}.Arn}}/{output}/*", "None"),
        (
            "s3:ListBucket",
            f"${{{outputs}.Arn}}",
            repr({"StringLike": {"s3:prefix": [datasets, f"{datasets}/*", output, f"{output}/*"]}}),
        ),
        ("s3:GetBucketLocation", f"${{{outputs}.Arn}}", "None"),
        ("s3:ListBucketMultipartUploads", f"${{{outputs}.Arn}}", "None"),
    }
    assert all(s["Effect"] == "Allow" for s in statements)


def test_evaluation_role_invokes_only_the_judge_and_uses_the_key_only_through_s3(assembly: CloudAssembly) -> None:
    statements = _policy_of_role(assembly, "EvaluationServiceRole")
    # cdk.json's judge, the US cross-Region profile of Nova Pro, called from us-west-2: the profile and the model in
    # each Region it routes to (user guide: "Supported Regions and models for inference profiles")
    judge = [
        "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/us.amazon.nova-pro-v1:0",
        *(
            f"arn:${{AWS::Partition}}:bedrock:{region}::foundation-model/amazon.nova-pro-v1:0"
            for region in ("us-east-1", "us-east-2", "us-west-2")
        ),
    ]
    bedrock = [s for s in statements if any(a.startswith("bedrock:") for a in as_list(s["Action"]))]
    assert bedrock == [
        {
            "Sid": "InvokeTheJudgeOnly",
            "Effect": "Allow",
            "Action": ["bedrock:InvokeModel", "bedrock:CreateModelInvocationJob", "bedrock:StopModelInvocationJob"],
            "Resource": judge,
        }
    ]
    (kms,) = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert kms["Resource"] == "${EncryptionKey3A692D6E.Arn}"
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "s3.${AWS::Region}.amazonaws.com"}}
    services = {a.split(":", 1)[0] for s in statements for a in as_list(s["Action"])}
    assert services == {"s3", "kms", "bedrock"}
