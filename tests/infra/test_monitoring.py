"""Alarms and the dashboard: what each alarm watches, that it reaches the encrypted topic, what the dashboard shows."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from bedrock_distill.observability import (
    EVALUATION_JOBS_CREATED,
    EVALUATION_JOBS_STOPPED_OUT_OF_BAND,
    EXECUTIONS_STARTED_FROM_UPLOADS,
    JOBS_STOPPED_OUT_OF_BAND,
    METRICS_NAMESPACE,
    MODEL_DEPLOYMENTS_CREATED,
    MODEL_DEPLOYMENTS_DELETED,
    MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND,
    OLDEST_PROVISIONED_THROUGHPUT_AGE_SECONDS,
    OVERDUE_MODEL_DEPLOYMENTS,
    OVERDUE_PROVISIONED_THROUGHPUTS,
    PROVISIONED_MODEL_UNITS_CREATED,
    PROVISIONED_THROUGHPUTS_DELETED,
    PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND,
    STUDENT_PROMOTED,
    STUDENT_SCORE_SHARE,
    TEACHER_PROMPTS_FAILED,
)
from stacks.components.monitoring import (
    DEAD_LETTER_ALARM_PERIOD,
    EXECUTION_ALARM_PERIOD,
    GRAPH_PERIOD,
    JUDGE_GRAPH_PERIOD,
    LAMBDA_ERRORS_ALARM_PERIOD,
    MAX_METRICS_PER_MATH_ALARM,
    OVERDUE_ALARM_PERIOD,
    PipelineMonitoring,
)
from stacks.config import STACK_ID, DistillConfig
from tests.infra.conftest import DEPLOY_REGION, CloudAssembly, as_list, default_context, render

pytestmark = pytest.mark.infra

ALARM_ARN_PATTERN = f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{STACK_ID}-*"
# The relay function of CDK's custom-resource provider framework: CDK writes it, it only runs during a
# deployment, and its failure fails that deployment, so an operator learns of it without an alarm.
CDK_FRAMEWORK_HANDLER = "framework.onEvent"
CUSTOM_METRICS = (
    OVERDUE_PROVISIONED_THROUGHPUTS,
    OLDEST_PROVISIONED_THROUGHPUT_AGE_SECONDS,
    PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND,
    JOBS_STOPPED_OUT_OF_BAND,
    EXECUTIONS_STARTED_FROM_UPLOADS,
    MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND,
    EVALUATION_JOBS_STOPPED_OUT_OF_BAND,
    OVERDUE_MODEL_DEPLOYMENTS,
    MODEL_DEPLOYMENTS_CREATED,
    MODEL_DEPLOYMENTS_DELETED,
    STUDENT_SCORE_SHARE,
    STUDENT_PROMOTED,
)


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every alarm, metric and composite, by name, with its properties rendered."""
    return {
        resource["Properties"]["AlarmName"]: {"LogicalId": logical_id, **render(resource["Properties"])}
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}
    }


def _metric_stats(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The metrics an alarm reads, by query id, whether CDK wrote it as one metric or as queries."""
    if "Metrics" not in alarm:
        metric = {key: alarm[key] for key in ("Namespace", "MetricName", "Dimensions")}
        return {"m1": {"Metric": metric, "Stat": alarm["Statistic"], "Period": alarm["Period"]}}
    return {query["Id"]: query["MetricStat"] for query in alarm["Metrics"] if "MetricStat" in query}


def _expression(alarm: dict[str, Any]) -> str:
    (watched,) = [query for query in alarm["Metrics"] if query.get("ReturnData", True)]
    expression: str = watched["Expression"]
    return expression


def _dimension(metric_stat: dict[str, Any], name: str) -> Any:
    (value,) = [d["Value"] for d in metric_stat["Metric"]["Dimensions"] if d["Name"] == name]
    return value


def _topic(assembly: CloudAssembly) -> str:
    (topic_id,) = assembly.of_type("AWS::SNS::Topic")
    return f"${{{topic_id}}}"


def _lambda_error_parts(alarms: dict[str, dict[str, Any]], stack_name: str = STACK_ID) -> list[dict[str, Any]]:
    return [alarm for name, alarm in alarms.items() if name.startswith(f"{stack_name}-lambda-errors-")]


def test_executions_failed_alarm_counts_failed_timed_out_and_aborted_runs(assembly: CloudAssembly) -> None:
    # Given the executions-failed alarm and the state machine
    alarm = _alarms(assembly.template)[f"{STACK_ID}-executions-failed"]
    (machine_id,) = assembly.of_type("AWS::StepFunctions::StateMachine")
    # When we read the metrics it sums
    metrics = _metric_stats(alarm)
    # Then it adds the state machine's failed, timed-out and aborted executions per 5 minutes
    assert {m["Metric"]["MetricName"] for m in metrics.values()} == {
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    }
    for metric in metrics.values():
        assert metric["Metric"]["Namespace"] == "AWS/States"
        assert _dimension(metric, "StateMachineArn") == f"${{{machine_id}}}"
        assert (metric["Stat"], metric["Period"]) == ("Sum", EXECUTION_ALARM_PERIOD.to_seconds())
    assert all(f"FILL({query_id}, 0)" in _expression(alarm) for query_id in metrics)
    assert _expression(alarm).count("+") == len(metrics) - 1
    # And one such execution is enough to notify the outcome topic
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
        1,
    )
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [_topic(assembly)]


def test_lambda_errors_alarm_covers_every_function_the_stack_deploys(assembly: CloudAssembly) -> None:
    # Given every Lambda function in the template but CDK's provider-framework relay
    functions = assembly.of_type("AWS::Lambda::Function")
    framework = {n for n, f in functions.items() if f["Properties"].get("Handler") == CDK_FRAMEWORK_HANDLER}
    assert len(framework) == 1, "only the invocation-logging custom resource uses the provider framework"
    ours = {f"${{{logical_id}}}" for logical_id in functions} - {f"${{{logical_id}}}" for logical_id in framework}
    # When we collect the functions the Lambda-errors alarms sum
    alarms = _alarms(assembly.template)
    parts = _lambda_error_parts(alarms)
    watched: list[Any] = []
    for part in parts:
        metrics = _metric_stats(part)
        # Then each part sums the errors of at most 10 functions (CloudWatch's limit), every one of them
        assert 1 <= len(metrics) <= MAX_METRICS_PER_MATH_ALARM
        assert all(f"FILL({query_id}, 0)" in _expression(part) for query_id in metrics)
        for metric in metrics.values():
            assert (metric["Metric"]["Namespace"], metric["Metric"]["MetricName"]) == ("AWS/Lambda", "Errors")
            assert (metric["Stat"], metric["Period"]) == ("Sum", LAMBDA_ERRORS_ALARM_PERIOD.to_seconds())
            watched.append(_dimension(metric, "FunctionName"))
        assert (part["Threshold"], part["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        # And a part does not notify by itself
        assert part["ActionsEnabled"] is False
        assert "AlarmActions" not in part
    # And together they cover every function exactly once
    assert sorted(watched) == sorted(ours)
    # And one composite alarm, in ALARM when any part is, notifies the topic
    composite = alarms[f"{STACK_ID}-lambda-errors"]
    assert composite["AlarmActions"] == [_topic(assembly)]
    assert composite["AlarmRule"] == "(" + " OR ".join(f'ALARM("${{{p["LogicalId"]}.Arn}}")' for p in parts) + ")"


@pytest.mark.parametrize(
    ("alarm_name", "metric_name"),
    [
        ("provisioned-throughput-overdue", OVERDUE_PROVISIONED_THROUGHPUTS),
        ("model-deployment-overdue", OVERDUE_MODEL_DEPLOYMENTS),
    ],
)
def test_overdue_serving_alarms_read_the_sweepers_metrics(
    assembly: CloudAssembly, alarm_name: str, metric_name: str
) -> None:
    # Given the alarm on Provisioned Throughputs (or custom model deployments not kept by a successful run) alive
    # longer than the maximum lifetime
    alarm = _alarms(assembly.template)[f"{STACK_ID}-{alarm_name}"]
    # When we read its metric
    (metric,) = _metric_stats(alarm).values()
    # Then it is the sweeper's count, its maximum per sweep period
    assert metric["Metric"] == {
        "Namespace": METRICS_NAMESPACE,
        "MetricName": metric_name,
        "Dimensions": [{"Name": "service", "Value": METRICS_NAMESPACE}],
    }
    assert (metric["Stat"], metric["Period"]) == ("Maximum", OVERDUE_ALARM_PERIOD.to_seconds())
    # And one overdue PT alarms, no data does not, and both alarm and recovery reach the topic
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
        1,
    )
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [_topic(assembly)]
    assert f"({assembly.context['maxProvisionedThroughputHours']} h)" in alarm["AlarmDescription"]


def test_every_alarm_says_what_to_do_and_falls_under_the_published_arn_pattern(assembly: CloudAssembly) -> None:
    # Given every alarm in the stack
    alarms = _alarms(assembly.template)
    assert len(alarms) >= 4
    for name, alarm in alarms.items():
        # Then its description explains it, and its ARN is one the key and topic policies let CloudWatch use
        assert len(alarm.get("AlarmDescription", "")) >= 80, name
        arn = ALARM_ARN_PATTERN.removesuffix(f"{STACK_ID}-*") + name
        assert fnmatchcase(arn, ALARM_ARN_PATTERN), name
        # And every alarm that acts notifies the outcome topic and nothing else
        if alarm.get("ActionsEnabled", True):
            assert alarm["AlarmActions"] == [_topic(assembly)], name
            assert alarm.get("OKActions", [_topic(assembly)]) == [_topic(assembly)], name


def test_cloudwatch_may_use_the_key_and_publish_to_the_topic_only_for_this_stacks_alarms(
    assembly: CloudAssembly,
) -> None:
    conditions = {
        "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
        "ArnLike": {"aws:SourceArn": ALARM_ARN_PATTERN},
    }
    # Given the key that encrypts the outcome topic
    (key,) = assembly.of_type("AWS::KMS::Key").values()
    assert render(next(iter(assembly.of_type("AWS::SNS::Topic").values()))["Properties"]["KmsMasterKeyId"]) == (
        f"${{{next(iter(assembly.of_type('AWS::KMS::Key')))}.Arn}}"
    )
    # When we pick the key-policy statements for the CloudWatch service principal
    statements = [
        render(s)
        for s in as_list(key["Properties"]["KeyPolicy"]["Statement"])
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    # Then CloudWatch gets the data key SNS needs to encrypt a notification, for this account's alarms only
    assert [(s["Effect"], sorted(as_list(s["Action"])), s["Resource"], s["Condition"]) for s in statements] == [
        ("Allow", ["kms:Decrypt", "kms:GenerateDataKey*"], "*", conditions)
    ]
    # And the topic policy lets the same alarms publish
    (policy,) = assembly.of_type("AWS::SNS::TopicPolicy").values()
    publishes = [
        s
        for s in render(as_list(policy["Properties"]["PolicyDocument"]["Statement"]))
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert [(s["Effect"], s["Action"], s["Resource"], s["Condition"]) for s in publishes] == [
        ("Allow", "sns:Publish", _topic(assembly), conditions)
    ]


def test_dashboard_shows_the_pipeline_its_functions_and_the_cleanup_metrics(assembly: CloudAssembly) -> None:
    # Given the dashboard
    ((dashboard_id, dashboard),) = assembly.of_type("AWS::CloudWatch::Dashboard").items()
    assert dashboard["Properties"]["DashboardName"] == f"{STACK_ID}-pipeline"
    # When we read its body as the console would
    body = render(dashboard["Properties"]["DashboardBody"])
    widgets = json.loads(body)["widgets"]
    titles = {w["properties"].get("title") for w in widgets}
    # Then it shows executions, their duration, each function, the custom metrics and every alarm
    assert {"Alarms", "Executions", "Execution duration (hours)", "Lambda errors", "Lambda throttles"} <= titles
    (machine_id,) = assembly.of_type("AWS::StepFunctions::StateMachine")
    assert f"${{{machine_id}}}" in body
    for metric_name in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionTime"):
        assert f'"{metric_name}"' in body
    for metric_name in CUSTOM_METRICS:
        assert f'["{METRICS_NAMESPACE}","{metric_name}","service","{METRICS_NAMESPACE}"' in body
    for logical_id, function in assembly.of_type("AWS::Lambda::Function").items():
        if function["Properties"].get("Handler") != CDK_FRAMEWORK_HANDLER:
            assert f"${{{logical_id}}}" in body, logical_id
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(
        f"${{{a['LogicalId']}.Arn}}" for a in _alarms(assembly.template).values()
    )
    # And the oldest PT's age is drawn against the maximum lifetime in seconds
    (age,) = [w for w in widgets if w["properties"].get("title") == "Oldest Provisioned Throughput (seconds)"]
    (annotation,) = age["properties"]["annotations"]["horizontal"]
    assert annotation["value"] == assembly.context["maxProvisionedThroughputHours"] * 3600
    # And the stack outputs a link to it
    assert render(assembly.template["Outputs"]["DashboardUrl"]["Value"]) == (
        "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}"
        f"#dashboards/dashboard/${{{dashboard_id}}}"
    )


# The construct on its own, with more functions than one math alarm may read and with dead-letter queues.
MANY_FUNCTIONS = 23
QUEUES = ("UploadEvents", "ExecutionEvents")


@pytest.fixture(scope="module")
def standalone() -> dict[str, Any]:
    app = App()
    stack = Stack(app, "Standalone")
    context = {k: v for k, v in default_context().items() if k in DistillConfig.context_keys()}
    PipelineMonitoring(
        stack,
        "Monitoring",
        config=DistillConfig.from_mapping(context, DEPLOY_REGION),
        state_machine=sfn.StateMachine.from_state_machine_name(stack, "Machine", "machine"),
        functions={
            f"Function{i:02}": lambda_.Function.from_function_arn(
                stack, f"Function{i:02}", f"arn:aws:lambda:us-east-1:111111111111:function:function-{i:02}"
            )
            for i in range(MANY_FUNCTIONS)
        },
        topic=sns.Topic(stack, "Topic"),
        key=kms.Key(stack, "Key"),
        dead_letter_queues={
            name: sqs.Queue.from_queue_arn(stack, name, f"arn:aws:sqs:us-east-1:111111111111:{name.lower()}")
            for name in QUEUES
        },
    )
    template: dict[str, Any] = app.synth().get_stack_by_name("Standalone").template
    return template


def test_more_functions_than_one_math_alarm_may_read_are_split_evenly(standalone: dict[str, Any]) -> None:
    # Given 23 functions, more than the 10 metrics CloudWatch allows in one metric-math alarm
    alarms = _alarms(standalone)
    # When we read the Lambda-errors alarm parts
    parts = _lambda_error_parts(alarms, "Standalone")
    sizes = sorted(len(_metric_stats(part)) for part in parts)
    # Then there are as few parts as the limit allows, evenly filled, covering every function once
    assert sizes == [7, 8, 8]
    watched = [_dimension(m, "FunctionName") for part in parts for m in _metric_stats(part).values()]
    assert sorted(watched) == [f"function-{i:02}" for i in range(MANY_FUNCTIONS)]
    # And the composite alarm is in ALARM when any of them is
    assert alarms["Standalone-lambda-errors"]["AlarmRule"].count("ALARM(") == 3


def test_each_dead_letter_queue_alarms_on_one_visible_message(standalone: dict[str, Any]) -> None:
    # Given the construct handed two dead-letter queues
    alarms = _alarms(standalone)
    (topic_id,) = [n for n, r in standalone["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    for name in QUEUES:
        # When we read the alarm for each
        alarm = alarms[f"Standalone-dead-letters-{name}"]
        (metric,) = _metric_stats(alarm).values()
        # Then it alarms on a single message waiting in that queue, and tells the topic when it is drained
        assert metric["Metric"] == {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": name.lower()}],
        }
        assert (metric["Stat"], metric["Period"]) == ("Maximum", DEAD_LETTER_ALARM_PERIOD.to_seconds())
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert alarm["AlarmActions"] == alarm["OKActions"] == [f"${{{topic_id}}}"]
    # And the dashboard graphs their depth
    (dashboard,) = [r for r in standalone["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    widgets = json.loads(render(dashboard["Properties"]["DashboardBody"]))["widgets"]
    (depth,) = [w for w in widgets if w["properties"].get("title") == "Dead-letter queue depth"]
    assert len(depth["properties"]["metrics"]) == len(QUEUES)


def test_monitoring_without_functions_is_refused() -> None:
    stack = Stack(App(), "Empty")
    context = {k: v for k, v in default_context().items() if k in DistillConfig.context_keys()}
    with pytest.raises(ValueError, match="at least one function"):
        PipelineMonitoring(
            stack,
            "Monitoring",
            config=DistillConfig.from_mapping(context, DEPLOY_REGION),
            state_machine=sfn.StateMachine.from_state_machine_name(stack, "Machine", "machine"),
            functions={},
            topic=sns.Topic(stack, "Topic"),
            key=kms.Key(stack, "Key"),
        )


def _dashboard_widgets(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The dashboard's widgets by title, their properties rendered as the console would read them."""
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    widgets = json.loads(render(dashboard["Properties"]["DashboardBody"]))["widgets"]
    return {w["properties"]["title"]: w["properties"] for w in widgets if "title" in w["properties"]}


# What a dashboard metric line without "stat" or "period" reads (CDK leaves CloudWatch's defaults out).
DEFAULT_STAT, DEFAULT_PERIOD_SECONDS = "Average", 300


def _custom_line_options(widget: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(metric name, options) of each line of the project's own metrics a widget draws, hidden ones included."""
    lines = []
    for line in widget["metrics"]:
        names = [part for part in line if isinstance(part, str)]
        options = next((part for part in line if isinstance(part, dict)), {})
        if names and names[0] == METRICS_NAMESPACE:
            lines.append((names[1], options))
    return lines


def _custom_lines(widget: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(metric name, statistic, period) of each of the project's own metrics a widget shows."""
    return [
        (name, options.get("stat", DEFAULT_STAT), options.get("period", DEFAULT_PERIOD_SECONDS))
        for name, options in _custom_line_options(widget)
        if options.get("visible", True)
    ]


def test_dashboard_shows_the_judges_share_and_decisions(standalone: dict[str, Any]) -> None:
    # Given the dashboard
    widgets = _dashboard_widgets(standalone)
    day = JUDGE_GRAPH_PERIOD.to_seconds()
    # When we read its judge widgets
    (last,) = [w for title, w in widgets.items() if title.startswith("Last judged run")]
    share = widgets["Student's share of the teacher's score per day (%, lowest and highest)"]
    decisions = widgets["Judge decisions per day; evaluation jobs and failed prompts"]
    # Then the last judged run's share and decision are shown as numbers, as Score publishes them
    assert _custom_lines(last) == [
        (STUDENT_SCORE_SHARE, "Average", GRAPH_PERIOD.to_seconds()),
        (STUDENT_PROMOTED, "Maximum", GRAPH_PERIOD.to_seconds()),
    ]
    assert last["view"] == "singleValue"
    # And the share over time, its lowest and highest per day
    assert _custom_lines(share) == [(STUDENT_SCORE_SHARE, "Minimum", day), (STUDENT_SCORE_SHARE, "Maximum", day)]
    # drawn against the share the decision promotes at, in percent as Score publishes it
    (threshold,) = share["annotations"]["horizontal"]
    assert threshold["value"] == pytest.approx(100 * default_context()["evaluation"]["promoteMinShare"])
    # And the decisions per day: promoted is the sum of the 1s, held the runs judged (datapoints) less those
    (held,) = [line[0] for line in decisions["metrics"] if "expression" in line[0]]
    assert held["label"] == "held"
    ids = {options["stat"]: options["id"] for name, options in _custom_line_options(decisions) if "id" in options}
    assert held["expression"] == f"{ids['SampleCount']} - {ids['Sum']}"
    assert (STUDENT_PROMOTED, "Sum", day) in _custom_lines(decisions)
    assert {name for name, _, _ in _custom_lines(decisions)} >= {
        STUDENT_PROMOTED,
        EVALUATION_JOBS_CREATED,
        TEACHER_PROMPTS_FAILED,
    }


def test_dashboard_shows_deployments_and_provisioned_throughputs_bought_released_and_overdue(
    standalone: dict[str, Any],
) -> None:
    # Given the dashboard, when we read its serving widgets
    widgets = _dashboard_widgets(standalone)
    serving = widgets["Serving bought and released by runs"]
    overdue = widgets["Deployments and Provisioned Throughputs past the maximum lifetime"]
    cleaned = widgets["Cleaned up outside the workflow; runs started from uploads"]
    # Then deployments are drawn beside Provisioned Throughputs: made and released by runs, per graph period
    assert _custom_lines(serving) == [
        (name, "Sum", GRAPH_PERIOD.to_seconds())
        for name in (
            MODEL_DEPLOYMENTS_CREATED,
            MODEL_DEPLOYMENTS_DELETED,
            PROVISIONED_MODEL_UNITS_CREATED,
            PROVISIONED_THROUGHPUTS_DELETED,
        )
    ]
    # And alive past the maximum lifetime, as the sweeper counts them on its schedule, against the alarm line
    assert _custom_lines(overdue) == [
        (OVERDUE_MODEL_DEPLOYMENTS, "Maximum", OVERDUE_ALARM_PERIOD.to_seconds()),
        (OVERDUE_PROVISIONED_THROUGHPUTS, "Maximum", OVERDUE_ALARM_PERIOD.to_seconds()),
    ]
    assert [a["value"] for a in overdue["annotations"]["horizontal"]] == [1]
    # And what the out-of-band cleanup deleted or stopped includes deployments and evaluation jobs
    assert {MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND, EVALUATION_JOBS_STOPPED_OUT_OF_BAND} <= {
        name for name, _, _ in _custom_lines(cleaned)
    }
