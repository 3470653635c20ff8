"""What AWS authorizes for each call: the action(s), resource ARN(s) and request context.

From the Service Authorization Reference ("Actions, resources, and condition keys for <service>") for the
operations this project's functions and the Bedrock service role make; an operation not listed here raises
`UnmodelledCallError`, so a new call fails the offline world loudly instead of passing unchecked.

Customer-managed KMS keys are authorized the way each service documents it: S3 SSE-KMS reads need
`kms:Decrypt` and writes `kms:GenerateDataKey` ("Using server-side encryption with AWS KMS keys"), an
encrypted SNS topic's publisher needs `kms:GenerateDataKey` and `kms:Decrypt` ("Encryption at rest": key
policy for publishers), and a DynamoDB table under a customer-managed key needs `kms:Decrypt` from the
caller ("How Amazon DynamoDB uses AWS KMS"); each through the service, so `kms:ViaService` is set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from offline.iam.policy import ContextValue, Request

# (kind, identifier) -> the ARN Bedrock resolves a name or ARN to; kinds: model-customization-job,
# provisioned-model, custom-model, custom-model-deployment, evaluation-job. None when Bedrock does not know it (the
# call then fails after authorization).
BedrockLookup = Callable[[str, str], str | None]


class UnmodelledCallError(LookupError):
    """An AWS operation the offline IAM model does not know how to authorize."""


@dataclass(frozen=True)
class World:
    region: str
    account_id: str
    partition: str = "aws"
    bucket_keys: Mapping[str, str] = field(default_factory=dict)  # bucket name -> SSE-KMS key ARN
    topic_keys: Mapping[str, str] = field(default_factory=dict)  # topic ARN -> key ARN
    table_keys: Mapping[str, str] = field(default_factory=dict)  # table name -> key ARN
    state_machine_arn: str = ""  # the one state machine whose task tokens functions return
    bedrock_lookup: BedrockLookup = lambda kind, identifier: None
    # Regions each cross-Region inference profile routes to, for the foundation-model check on every one.
    profile_regions: Callable[[str], list[str]] = lambda profile_id: []
    # An existing resource's tags, which a request on it carries as aws:ResourceTag/<key>.
    resource_tags: Callable[[str], Mapping[str, str]] = lambda arn: {}

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )


def _via(world: World, service: str) -> dict[str, ContextValue]:
    return {"kms:ViaService": f"{service}.{world.region}.amazonaws.com", "kms:CallerAccount": world.account_id}


def _tags_context(tags: list[Mapping[str, str]]) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {f"aws:RequestTag/{tag['key']}": tag["value"] for tag in tags}
    context["aws:TagKeys"] = [tag["key"] for tag in tags]
    return context


# S3 ------------------------------------------------------------------------------------------------------


def _s3(  # noqa: PLR0911 - one return per group of S3 operations
    operation: str, params: Mapping[str, Any], world: World
) -> list[Request]:
    bucket = str(params.get("Bucket", ""))
    bucket_arn = f"arn:{world.partition}:s3:::{bucket}"
    object_arn = f"{bucket_arn}/{params.get('Key', '')}"
    key = world.bucket_keys.get(bucket)
    kms_via_s3 = _via(world, "s3")
    if operation in ("GetObject", "HeadObject"):
        requests = [Request("s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject", object_arn)]
        if key and operation == "GetObject":
            requests.append(Request("kms:Decrypt", key, kms_via_s3))
        return requests
    if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        requests = [Request("s3:PutObject", object_arn)]
        if key and operation in ("PutObject", "CreateMultipartUpload"):
            requests.append(Request("kms:GenerateDataKey", key, kms_via_s3))
        return requests
    if operation == "AbortMultipartUpload":
        return [Request("s3:AbortMultipartUpload", object_arn)]
    if operation == "DeleteObject":
        return [Request("s3:DeleteObject", object_arn)]
    if operation in ("ListObjectsV2", "ListObjects", "HeadBucket"):
        prefix = str(params["Prefix"]) if "Prefix" in params else None
        return [list_bucket_request(world, bucket, prefix)]
    if operation == "ListObjectVersions":
        return [Request("s3:ListBucketVersions", bucket_arn)]
    if operation == "GetBucketLocation":
        return [Request("s3:GetBucketLocation", bucket_arn)]
    raise UnmodelledCallError(f"s3:{operation}")


def list_bucket_request(world: World, bucket: str, prefix: str | None) -> Request:
    context: dict[str, ContextValue] = {"s3:prefix": prefix} if prefix is not None else {}
    return Request("s3:ListBucket", f"arn:{world.partition}:s3:::{bucket}", context)


# DynamoDB, SNS, SSM, Step Functions, STS -----------------------------------------------------------------

_DYNAMODB_ITEM_OPERATIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"}


def _dynamodb(operation: str, params: Mapping[str, Any], world: World) -> list[Request]:
    if operation not in _DYNAMODB_ITEM_OPERATIONS:
        raise UnmodelledCallError(f"dynamodb:{operation}")
    table = str(params["TableName"])
    requests = [Request(f"dynamodb:{operation}", world.arn("dynamodb", f"table/{table}"))]
    if key := world.table_keys.get(table):
        requests.append(Request("kms:Decrypt", key, _via(world, "dynamodb")))
    return requests


def _sns(operation: str, params: Mapping[str, Any], world: World) -> list[Request]:
    if operation != "Publish":
        raise UnmodelledCallError(f"sns:{operation}")
    topic = str(params.get("TopicArn") or params.get("TargetArn"))
    requests = [Request("sns:Publish", topic)]
    if key := world.topic_keys.get(topic):
        via_sns = _via(world, "sns")
        requests += [Request("kms:GenerateDataKey", key, via_sns), Request("kms:Decrypt", key, via_sns)]
    return requests


def _ssm(operation: str, params: Mapping[str, Any], world: World) -> list[Request]:
    if operation not in ("GetParameter", "PutParameter", "DeleteParameter"):
        raise UnmodelledCallError(f"ssm:{operation}")
    name = str(params["Name"]).lstrip("/")
    return [Request(f"ssm:{operation}", world.arn("ssm", f"parameter/{name}"))]


def _stepfunctions(operation: str, params: Mapping[str, Any], world: World) -> list[Request]:
    if operation in ("StartExecution", "ListExecutions"):
        return [Request(f"states:{operation}", str(params["stateMachineArn"]))]
    if operation in ("DescribeExecution", "GetExecutionHistory", "StopExecution"):
        return [Request(f"states:{operation}", str(params["executionArn"]))]
    if operation in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        # A task token does not name its state machine; offline there is one, whose tokens these are.
        return [Request(f"states:{operation}", world.state_machine_arn)]
    raise UnmodelledCallError(f"states:{operation}")


def _sts(operation: str, params: Mapping[str, Any], world: World) -> list[Request]:
    if operation == "GetCallerIdentity":
        return []  # needs no permission (STS API reference)
    raise UnmodelledCallError(f"sts:{operation}")


# Bedrock -------------------------------------------------------------------------------------------------


def _on(world: World, action: str, arn: str, context: Mapping[str, ContextValue] | None = None) -> Request:
    """A request on an existing resource: its tags are in the request context ("Controlling access to AWS
    resources using tags": aws:ResourceTag/<key>)."""
    tags = {f"aws:ResourceTag/{key}": value for key, value in world.resource_tags(arn).items()}
    return Request(action, arn, {**tags, **(context or {})})


def _bedrock_arn(world: World, kind: str, identifier: str) -> str:
    if identifier.startswith("arn:"):
        return identifier
    return world.bedrock_lookup(kind, identifier) or world.arn("bedrock", f"{kind}/{identifier}")


def _foundation_model_arn(world: World, model_id: str, region: str | None = None) -> str:
    if model_id.startswith("arn:"):
        return model_id
    return f"arn:{world.partition}:bedrock:{region or world.region}::foundation-model/{model_id}"


def invoke_model_requests(world: World, model_id: str) -> list[Request]:
    """bedrock:InvokeModel as Bedrock checks it: a PT or custom model by ARN; an inference profile and the
    foundation model in every Region it routes to (user guide, "Prerequisites for inference profiles")."""
    if model_id.startswith("arn:"):
        return [_on(world, "bedrock:InvokeModel", model_id)]
    regions = world.profile_regions(model_id)
    if regions:
        base = model_id.split(".", 1)[1]
        profile = world.arn("bedrock", f"inference-profile/{model_id}")
        return [Request("bedrock:InvokeModel", profile)] + [
            Request("bedrock:InvokeModel", _foundation_model_arn(world, base, region)) for region in regions
        ]
    return [Request("bedrock:InvokeModel", _foundation_model_arn(world, model_id))]


# The geography prefixes of system-defined cross-Region inference profile ids ("Supported Regions and models for
# inference profiles").
_PROFILE_GEOGRAPHIES = frozenset({"us", "eu", "apac", "us-gov", "global", "ca", "jp", "au"})


def _judge_model_arns(world: World, params: Mapping[str, Any]) -> list[str]:
    """The foundation models a judge job's evaluator names: by id, inference profile id or either ARN (an inference
    profile counts as the foundation model it serves, the only model type the reference lists for this action)."""
    automated = params.get("evaluationConfig", {}).get("automated", {})
    evaluators = automated.get("evaluatorModelConfig", {}).get("bedrockEvaluatorModels", [])
    arns = []
    for evaluator in evaluators:
        identifier = str(evaluator["modelIdentifier"])
        if identifier.startswith("arn:") and ":foundation-model/" in identifier:
            arns.append(identifier)
            continue
        model_id = identifier.rsplit("/", 1)[-1]
        geography, _, base = model_id.partition(".")
        if geography in _PROFILE_GEOGRAPHIES and "." in base:
            model_id = base
        arns.append(_foundation_model_arn(world, model_id))
    return arns


def _pass_role(role_arn: str) -> Request:
    return Request("iam:PassRole", role_arn, {"iam:PassedToService": "bedrock.amazonaws.com"})


def _deployment_or_evaluation(operation: str, params: Mapping[str, Any], world: World) -> list[Request] | None:
    """Custom model deployments and evaluation jobs (None for any other operation)."""
    action = f"bedrock:{operation}"
    if operation == "CreateCustomModelDeployment":
        tags = list(params.get("tags", []))
        context = _tags_context(tags) if tags else {}
        # Authorized on the custom model it deploys, with that model's tags (custom-model*, with aws:RequestTag and
        # aws:TagKeys; the reference lists no custom-model-deployment type for it); tagging the deployment it
        # creates is TagResource on the deployment, as for a PT.
        deployment = world.arn("bedrock", "custom-model-deployment/*")
        model = _on(world, action, str(params["modelArn"]), context)
        return [model] + ([Request("bedrock:TagResource", deployment, context)] if tags else [])
    if operation in ("GetCustomModelDeployment", "DeleteCustomModelDeployment"):
        identifier = str(params["customModelDeploymentIdentifier"])
        return [_on(world, action, _bedrock_arn(world, "custom-model-deployment", identifier))]
    if operation == "CreateEvaluationJob":
        tags = list(params.get("jobTags", []))
        context = _tags_context(tags) if tags else {}
        # Authorized on the models involved (foundation-model*, custom-model*, prompt routers), not on the
        # evaluation-job type: over precomputed responses, the judge only. Tagging the job is TagResource on it.
        requests = [Request(action, arn, context) for arn in _judge_model_arns(world, params)]
        if tags:
            requests.append(Request("bedrock:TagResource", world.arn("bedrock", "evaluation-job/*"), context))
        return [*requests, _pass_role(str(params["roleArn"]))]
    if operation in ("GetEvaluationJob", "StopEvaluationJob"):
        # The identifier is the job's ARN only (botocore EvaluationJobIdentifier).
        return [_on(world, action, str(params["jobIdentifier"]))]
    return None


def _bedrock(  # noqa: PLR0911 - one return per group of Bedrock operations
    operation: str, params: Mapping[str, Any], world: World
) -> list[Request]:
    action = f"bedrock:{operation}"
    if (requests := _deployment_or_evaluation(operation, params, world)) is not None:
        return requests
    # Create calls carry their tags as aws:RequestTag/<key> and aws:TagKeys on every resource they are authorized
    # on (Service Authorization Reference for Amazon Bedrock: both keys on the custom-model* and foundation-model*
    # types of CreateModelCustomizationJob, CreateProvisionedModelThroughput, CreateCustomModelDeployment and
    # CreateEvaluationJob, and on TagResource).
    if operation == "CreateModelCustomizationJob":
        tags = [*params.get("jobTags", []), *params.get("customModelTags", [])]
        # The job and the model do not exist yet: their ARNs are authorized as the patterns they will match.
        created = [world.arn("bedrock", "model-customization-job/*"), world.arn("bedrock", "custom-model/*")]
        context = _tags_context(tags) if tags else {}
        requests = [Request(action, arn, context) for arn in created]
        requests.append(Request(action, _foundation_model_arn(world, str(params["baseModelIdentifier"])), context))
        if tags:
            requests += [Request("bedrock:TagResource", arn, context) for arn in created]
        return [*requests, _pass_role(str(params["roleArn"]))]
    if operation in ("GetModelCustomizationJob", "StopModelCustomizationJob"):
        return [_on(world, action, _bedrock_arn(world, "model-customization-job", str(params["jobIdentifier"])))]
    if operation == "CreateProvisionedModelThroughput":
        tags = list(params.get("tags", []))
        context = _tags_context(tags) if tags else {}
        model_id = str(params["modelId"])
        model = world.bedrock_lookup("custom-model", model_id) or _foundation_model_arn(world, model_id)
        # Authorized on the model it is bought for, with that model's tags (custom-model* or foundation-model*; the
        # reference lists no provisioned-model type for it); tagging the PT it creates is TagResource on the PT.
        pt = world.arn("bedrock", "provisioned-model/*")
        return [_on(world, action, model, context)] + ([Request("bedrock:TagResource", pt, context)] if tags else [])
    if operation in ("GetProvisionedModelThroughput", "DeleteProvisionedModelThroughput"):
        return [_on(world, action, _bedrock_arn(world, "provisioned-model", str(params["provisionedModelId"])))]
    if operation == "GetCustomModel":
        return [_on(world, action, _bedrock_arn(world, "custom-model", str(params["modelIdentifier"])))]
    if operation in ("ListTagsForResource", "TagResource", "UntagResource"):
        context = _tags_context(list(params["tags"])) if operation == "TagResource" else {}
        return [_on(world, action, str(params["resourceARN"]), context)]
    if operation in (
        "ListModelCustomizationJobs",
        "ListProvisionedModelThroughputs",
        "ListCustomModels",
        "ListCustomModelDeployments",
        "ListEvaluationJobs",
    ):
        return [Request(action, "*")]
    if operation in ("GetModelInvocationLoggingConfiguration", "DeleteModelInvocationLoggingConfiguration"):
        return [Request(action, "*")]
    if operation == "PutModelInvocationLoggingConfiguration":
        role = params.get("loggingConfig", {}).get("cloudWatchConfig", {}).get("roleArn")
        return [Request(action, "*")] + ([_pass_role(str(role))] if role else [])
    raise UnmodelledCallError(f"bedrock:{operation}")


def _bedrock_runtime(operation: str, params: Mapping[str, Any], world: World) -> list[Request]:
    if operation in ("Converse", "InvokeModel"):
        return invoke_model_requests(world, str(params["modelId"]))
    if operation in ("ConverseStream", "InvokeModelWithResponseStream"):
        return [
            Request("bedrock:InvokeModelWithResponseStream", r.resource, r.context)
            for r in invoke_model_requests(world, str(params["modelId"]))
        ]
    raise UnmodelledCallError(f"bedrock-runtime:{operation}")


_SERVICES: dict[str, Callable[[str, Mapping[str, Any], World], list[Request]]] = {
    "s3": _s3,
    "dynamodb": _dynamodb,
    "sns": _sns,
    "ssm": _ssm,
    "stepfunctions": _stepfunctions,
    "sts": _sts,
    "bedrock": _bedrock,
    "bedrock-runtime": _bedrock_runtime,
}
SERVICES = tuple(_SERVICES)


def requests_for(service: str, operation: str, params: Mapping[str, Any], world: World) -> list[Request]:
    if service not in _SERVICES:
        raise UnmodelledCallError(f"{service}:{operation}")
    return _SERVICES[service](operation, params, world)
