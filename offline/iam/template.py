"""The synthesized template, read as the offline world deploys it: physical names, intrinsics, roles.

Each resource is named from its construct path (`aws:cdk:path` metadata, which the CDK CLI writes and
`offline.synth` asks for), so the offline world and a test can find "the inputs bucket" or "the CreateJob
function" without hard-coding CDK's hashed logical IDs. `resolve` evaluates the intrinsic functions the
template uses (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select) against those names; anything else raises.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data

PATH_METADATA = "aws:cdk:path"
_PSEUDO_PARAMETERS = ("AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix", "AWS::StackName")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_NOT_NAME = re.compile(r"[^A-Za-z0-9-]+")


class TemplateError(ValueError):
    """The template holds something the offline world cannot deploy faithfully."""


@dataclass(frozen=True)
class Account:
    region: str
    account_id: str
    partition: str = "aws"


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


class DeployedTemplate:
    """A template deployed under `prefix` into `account`: every resource's physical name and ARN."""

    def __init__(self, template: Mapping[str, Any], *, prefix: str, account: Account, stack_name: str) -> None:
        self.template = template
        self.prefix = prefix
        self.account = account
        self.stack_name = stack_name

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.template["Resources"]
        return resources

    def path(self, logical_id: str) -> list[str]:
        """The construct path below the stack, without CDK's trailing `Resource`/`Default` nodes."""
        metadata = self.resources[logical_id].get("Metadata", {})
        if PATH_METADATA not in metadata:
            raise TemplateError(f"{logical_id} has no {PATH_METADATA} metadata: synthesize with path metadata enabled")
        parts = str(metadata[PATH_METADATA]).split("/")[1:]
        while parts and parts[-1] in ("Resource", "Default"):
            parts.pop()
        return parts

    def of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}

    def find(self, resource_type: str, *path: str) -> str:
        """The one resource of `resource_type` whose construct path ends with `path`."""
        found = [name for name in self.of_type(resource_type) if self.path(name)[-len(path) :] == list(path)]
        if len(found) != 1:
            raise TemplateError(f"expected one {resource_type} at .../{'/'.join(path)}, found {found}")
        return found[0]

    # Names ---------------------------------------------------------------------------------------------

    @cached_property
    def function_names(self) -> dict[str, str]:
        """Lambda function logical ID -> the offline function name, `<prefix>-<construct above Function>`."""
        names: dict[str, str] = {}
        for logical_id in self.of_type("AWS::Lambda::Function"):
            parts = [part for part in self.path(logical_id) if part != "Function"]
            short = _NOT_NAME.sub("-", parts[-1] if len(parts) == 1 or parts[-1] != "Handler" else "".join(parts[-2:]))
            names[logical_id] = f"{self.prefix}-{short}"
        if len(set(names.values())) != len(names):
            raise TemplateError(f"two functions would share an offline name: {sorted(names.values())}")
        return names

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        kind = resource["Type"]
        if kind == "AWS::Lambda::Function":
            return self.function_names[logical_id]
        if kind == "AWS::StepFunctions::StateMachine":
            return str(self.resolve(resource["Properties"]["StateMachineName"]))
        parts = self.path(logical_id)
        if kind in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::SQS::Queue"):
            return f"{self.prefix}-{_kebab(parts[-1])}"
        if kind == "AWS::KMS::Key":
            # A key's id is a UUID; this one is derived from the logical ID so it is stable across runs.
            digest = hashlib.sha256(logical_id.encode()).hexdigest()
            return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        return _NOT_NAME.sub("-", f"{self.prefix}-{'-'.join(parts)}")[:64]

    def arn(self, logical_id: str) -> str:
        name = self.physical_name(logical_id)
        kind = self.resources[logical_id]["Type"]
        a = self.account
        arns = {
            "AWS::S3::Bucket": f"arn:{a.partition}:s3:::{name}",
            "AWS::DynamoDB::Table": f"arn:{a.partition}:dynamodb:{a.region}:{a.account_id}:table/{name}",
            "AWS::SNS::Topic": f"arn:{a.partition}:sns:{a.region}:{a.account_id}:{name}",
            "AWS::SQS::Queue": f"arn:{a.partition}:sqs:{a.region}:{a.account_id}:{name}",
            "AWS::KMS::Key": f"arn:{a.partition}:kms:{a.region}:{a.account_id}:key/{name}",
            "AWS::IAM::Role": f"arn:{a.partition}:iam::{a.account_id}:role/{name}",
            "AWS::Lambda::Function": f"arn:{a.partition}:lambda:{a.region}:{a.account_id}:function:{name}",
            "AWS::Logs::LogGroup": f"arn:{a.partition}:logs:{a.region}:{a.account_id}:log-group:{name}:*",
            "AWS::StepFunctions::StateMachine": (
                f"arn:{a.partition}:states:{a.region}:{a.account_id}:stateMachine:{name}"
            ),
        }
        if kind not in arns:
            raise TemplateError(f"the offline world does not name {kind} ARNs ({logical_id})")
        return arns[kind]

    def ref(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        # Ref gives the ARN for these types (CloudFormation resource reference, "Return values").
        if kind in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"):
            return self.arn(logical_id)
        if kind == "AWS::SQS::Queue":
            a = self.account
            return f"https://sqs.{a.region}.amazonaws.com/{a.account_id}/{self.physical_name(logical_id)}"
        return self.physical_name(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute in ("Name", "TopicName", "QueueName", "KeyId"):
            return self.physical_name(logical_id)
        raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not modelled offline")

    # Intrinsics ----------------------------------------------------------------------------------------

    def _pseudo(self, name: str) -> str:
        a = self.account
        values = {
            "AWS::Region": a.region,
            "AWS::AccountId": a.account_id,
            "AWS::Partition": a.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
        }
        return values[name]

    def _reference(self, name: str) -> str:
        if name in _PSEUDO_PARAMETERS:
            return self._pseudo(name)
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.get_att(logical_id, attribute)
        if name not in self.resources:
            raise TemplateError(f"Ref to {name}, which is neither a resource nor a pseudo parameter")
        return self.ref(name)

    def resolve(self, value: Any) -> Any:  # noqa: PLR0911 - one return per intrinsic function
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._reference(str(argument))
            if function == "Fn::GetAtt":
                return self.get_att(str(argument[0]), str(argument[1]))
            if function == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self.resolve(part)) for part in parts)
            if function == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                resolved = {key: str(self.resolve(item)) for key, item in variables.items()}
                return _SUB_VARIABLE.sub(lambda m: resolved.get(m.group(1)) or self._reference(m.group(1)), text)
            if function == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            if function.startswith("Fn::") or function == "Condition":
                raise TemplateError(f"{function} is not modelled offline")
        return {key: self.resolve(item) for key, item in value.items()}

    # IAM -----------------------------------------------------------------------------------------------

    def role_of(self, logical_id: str) -> str:
        """The logical ID of the template role a function (`Role`) or state machine (`RoleArn`) runs as."""
        properties = self.resources[logical_id]["Properties"]
        role = properties.get("Role", properties.get("RoleArn"))
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise TemplateError(f"{logical_id}'s role is not a role of this template")
        return str(role["Fn::GetAtt"][0])

    def role_policies(self, role_logical_id: str) -> list[dict[str, Any]]:
        """Every identity-based policy document of the role: inline, attached AWS::IAM::Policy, AWS managed."""
        properties = self.resources[role_logical_id]["Properties"]
        documents = [self.resolve(policy["PolicyDocument"]) for policy in properties.get("Policies", [])]
        for policy in self.of_type("AWS::IAM::Policy").values():
            if {"Ref": role_logical_id} in policy["Properties"].get("Roles", []):
                documents.append(self.resolve(policy["Properties"]["PolicyDocument"]))
        for managed_arn in self.resolve(properties.get("ManagedPolicyArns", [])):
            documents.append(_aws_managed_policy(str(managed_arn)))
        return documents

    def trust_policy(self, role_logical_id: str) -> dict[str, Any]:
        properties = self.resources[role_logical_id]["Properties"]
        document: dict[str, Any] = self.resolve(properties["AssumeRolePolicyDocument"])
        return document


def _aws_managed_policy(arn: str) -> dict[str, Any]:
    name = arn.split(":policy/", 1)[-1].rsplit("/", 1)[-1]
    policies = json.loads(aws_managed_policies_data)
    if name not in policies:
        raise TemplateError(f"managed policy {arn} is not an AWS managed policy moto knows")
    document: dict[str, Any] = policies[name]["Document"]
    return document
