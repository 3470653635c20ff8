"""Alarms and a dashboard for the pipeline: failed runs, failing functions, a Provisioned Throughput
alive too long, events nobody handled; every alarm notifies the outcome topic.

Every name, period and threshold is a constant below. The topic is encrypted with the project's key,
so the key and topic policies let CloudWatch publish, for this stack's alarms only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from bedrock_distill.observability import (
    EVALUATION_JOBS_CREATED,
    EVALUATION_JOBS_STOPPED_OUT_OF_BAND,
    EXECUTIONS_STARTED_FROM_UPLOADS,
    JOBS_STOPPED_OUT_OF_BAND,
    METRICS_NAMESPACE,
    METRICS_SERVICE_DIMENSION,
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
    VALIDATION_PROMPTS_FAILED,
)
from stacks.config import DistillConfig

# Executions that failed, timed out or were aborted, and Lambda errors: any one in this period alarms.
EXECUTION_ALARM_PERIOD: Final = Duration.minutes(5)
LAMBDA_ERRORS_ALARM_PERIOD: Final = Duration.minutes(5)
# At least the sweeper's schedule interval, so every period holds one of its datapoints: with a shorter
# period, periods without a sweep read as "not breaching" and the alarm would flap between ALARM and OK.
OVERDUE_ALARM_PERIOD: Final = Duration.hours(1)
DEAD_LETTER_ALARM_PERIOD: Final = Duration.minutes(5)
ALARM_THRESHOLD: Final = 1  # every alarm here counts things that should never happen: one is enough
# CloudWatch's hard limit on the metrics one metric-math alarm may reference; more functions than this are
# summed in several alarms that one composite alarm combines.
MAX_METRICS_PER_MATH_ALARM: Final = 10
DASHBOARD_NAME_SUFFIX: Final = "pipeline"
DASHBOARD_RANGE: Final = Duration.days(7)  # a distillation job may run for days
GRAPH_PERIOD: Final = Duration.minutes(5)
DURATION_GRAPH_PERIOD: Final = Duration.hours(1)
# Score publishes one datapoint per judged run: a day per point keeps every run of a busy day on one bar.
JUDGE_GRAPH_PERIOD: Final = Duration.days(1)
MILLISECONDS_PER_HOUR: Final = 3_600_000


class PipelineMonitoring(Construct):
    """Alarms on the state machine, the given functions and dead-letter queues, and the PT metrics the
    cleanup publishes, plus the `<stack>-pipeline` dashboard.

    Takes whatever functions and queues it is given: pass every function the stack deploys (CDK's own
    custom-resource framework functions aside) and every dead-letter queue.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DistillConfig,
        state_machine: sfn.IStateMachine,
        functions: Mapping[str, lambda_.IFunction],
        topic: sns.ITopic,
        key: kms.IKey,
        dead_letter_queues: Mapping[str, sqs.IQueue] | None = None,
    ) -> None:
        if not functions:
            raise ValueError("PipelineMonitoring needs at least one function to watch")
        super().__init__(scope, construct_id)
        queues = dict(dead_letter_queues or {})
        self._prefix = Stack.of(self).stack_name
        self._notify = actions.SnsAction(topic)
        self._allow_cloudwatch_to_publish(topic, key)

        self.executions_failed = self._executions_failed_alarm(state_machine)
        self.lambda_error_alarms, self.lambda_errors = self._lambda_error_alarms(functions)
        self.provisioned_throughput_overdue = self._overdue_alarm(config)
        self.model_deployment_overdue = self._overdue_deployment_alarm(config)
        self.dead_letter_alarms = {name: self._dead_letter_alarm(name, queue) for name, queue in queues.items()}

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{self._prefix}-{DASHBOARD_NAME_SUFFIX}",
            default_interval=DASHBOARD_RANGE,
        )
        self._add_widgets(config, state_machine, functions, queues)

    @property
    def alarms(self) -> list[cloudwatch.AlarmBase]:
        """Every alarm, those that notify first."""
        return [
            self.executions_failed,
            self.lambda_errors,
            self.provisioned_throughput_overdue,
            self.model_deployment_overdue,
            *self.dead_letter_alarms.values(),
            *self.lambda_error_alarms,
        ]

    @property
    def dashboard_url(self) -> str:
        region = Aws.REGION
        return (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{self.dashboard.dashboard_name}"
        )

    @property
    def alarm_arn_pattern(self) -> str:
        """The ARNs of this construct's alarms: every alarm name starts with the stack name."""
        return f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{self._prefix}-*"

    def _allow_cloudwatch_to_publish(self, topic: sns.ITopic, key: kms.IKey) -> None:
        """Without these grants CloudWatch cannot publish to the encrypted topic and drops alarm notifications."""
        conditions = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": self.alarm_arn_pattern},
        }
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        published = topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublish",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=conditions,
            )
        )
        encrypted = key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublishToTheEncryptedTopic",
                principals=[cloudwatch_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=conditions,
            )
        )
        # An imported topic or key keeps its own policy: alarms would deploy and never be delivered.
        if not (published.statement_added and encrypted.statement_added):
            raise ValueError("PipelineMonitoring needs a topic and a key whose policies this stack defines")

    def _alarm(
        self,
        construct_id: str,
        name: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        notify_ok: bool,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self._prefix}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=ALARM_THRESHOLD,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._notify)
        if notify_ok:
            alarm.add_ok_action(self._notify)
        return alarm

    def _executions_failed_alarm(self, state_machine: sfn.IStateMachine) -> cloudwatch.Alarm:
        period = EXECUTION_ALARM_PERIOD
        failed = cloudwatch.MathExpression(
            expression="FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)",
            using_metrics={
                "failed": state_machine.metric_failed(statistic="Sum", period=period),
                "timedOut": state_machine.metric_timed_out(statistic="Sum", period=period),
                "aborted": state_machine.metric_aborted(statistic="Sum", period=period),
            },
            label="Executions failed, timed out or aborted",
            period=EXECUTION_ALARM_PERIOD,
        )
        return self._alarm(
            "ExecutionsFailed",
            "executions-failed",
            failed,
            "A distillation run ended without succeeding: an execution of the state machine failed, timed out or "
            "was aborted. Open the execution in the Step Functions console (its Input names the run) and read the "
            "failing state's error. The workflow deletes its Provisioned Throughput on failure; after a timeout or "
            "an abort, check in the Bedrock console that no Provisioned Throughput tagged with the execution is "
            "left, and stop its customization job if it still runs.",
            notify_ok=False,
        )

    def _lambda_error_alarms(
        self, functions: Mapping[str, lambda_.IFunction]
    ) -> tuple[list[cloudwatch.Alarm], cloudwatch.CompositeAlarm]:
        """Errors summed over every function, in groups CloudWatch accepts; one composite alarm notifies."""
        names = sorted(functions)
        count = -(-len(names) // MAX_METRICS_PER_MATH_ALARM)  # as few alarms as the limit allows, evenly filled
        size = -(-len(names) // count)
        groups = [names[i : i + size] for i in range(0, len(names), size)]
        alarms: list[cloudwatch.Alarm] = []
        for number, group in enumerate(groups, start=1):
            errors = cloudwatch.MathExpression(
                expression=" + ".join(f"FILL(errors{i}, 0)" for i in range(len(group))),
                using_metrics={
                    f"errors{i}": functions[name].metric_errors(
                        statistic="Sum", period=LAMBDA_ERRORS_ALARM_PERIOD, label=name
                    )
                    for i, name in enumerate(group)
                },
                label="Lambda errors",
                period=LAMBDA_ERRORS_ALARM_PERIOD,
            )
            alarm = cloudwatch.Alarm(
                self,
                f"LambdaErrors{number}",
                alarm_name=f"{self._prefix}-lambda-errors-{number}-of-{len(groups)}",
                alarm_description=(
                    f"Lambda errors in {', '.join(group)}. Part of the {self._prefix}-lambda-errors alarm, which "
                    "notifies; see the dashboard's per-function errors graph."
                ),
                metric=errors,
                threshold=ALARM_THRESHOLD,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                actions_enabled=False,
            )
            alarms.append(alarm)
        composite = cloudwatch.CompositeAlarm(
            self,
            "LambdaErrors",
            composite_alarm_name=f"{self._prefix}-lambda-errors",
            alarm_rule=cloudwatch.AlarmRule.any_of(*alarms),
            alarm_description=(
                "A pipeline function raised an error (an unhandled exception, a timeout or running out of memory). "
                "Step Functions retries transient errors, so a run may still succeed; if the executions-failed alarm "
                "follows, the run did not. Find the function on the dashboard's Lambda errors graph and read its log "
                "group (JSON logs, ERROR level) for the exception."
            ),
        )
        composite.add_alarm_action(self._notify)
        return alarms, composite

    def _overdue_alarm(self, config: DistillConfig) -> cloudwatch.Alarm:
        overdue = _custom_metric(OVERDUE_PROVISIONED_THROUGHPUTS, "Maximum", OVERDUE_ALARM_PERIOD)
        return self._alarm(
            "ProvisionedThroughputOverdue",
            "provisioned-throughput-overdue",
            overdue,
            f"A Provisioned Throughput tagged by this project has been alive longer than the maximum lifetime "
            f"({config.max_provisioned_throughput_hours} h) and is billed by the hour. The sweeper deletes such "
            "Provisioned Throughputs; if this alarm stays in ALARM, deletion is failing. Delete it in the Bedrock "
            "console (Provisioned Throughput) and check the sweeper's log group for the error.",
            notify_ok=True,
        )

    def _overdue_deployment_alarm(self, config: DistillConfig) -> cloudwatch.Alarm:
        overdue = _custom_metric(OVERDUE_MODEL_DEPLOYMENTS, "Maximum", OVERDUE_ALARM_PERIOD)
        return self._alarm(
            "ModelDeploymentOverdue",
            "model-deployment-overdue",
            overdue,
            f"A custom model deployment tagged by this project has been alive longer than the maximum lifetime "
            f"({config.max_provisioned_throughput_hours} h) and was not kept by a successful run (keepDeployment). "
            "It is billed per token, not per hour, but it outlived its run. The sweeper deletes such deployments; "
            "if this alarm stays in ALARM, deletion is failing. Delete it in the Bedrock console (Custom models, "
            "Deployments) and check the sweeper's log group for the error.",
            notify_ok=True,
        )

    def _dead_letter_alarm(self, name: str, queue: sqs.IQueue) -> cloudwatch.Alarm:
        visible = queue.metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=DEAD_LETTER_ALARM_PERIOD
        )
        return self._alarm(
            f"DeadLetters{name}",
            f"dead-letters-{name}",
            visible,
            f"The {name} dead-letter queue holds an event the pipeline could not handle after its retries, so "
            "something it should have done (start a run, clean up after one) did not happen. Read the message "
            "and the consuming function's log group, fix the cause, then redrive or delete the message.",
            notify_ok=True,
        )

    def _add_widgets(
        self,
        config: DistillConfig,
        state_machine: sfn.IStateMachine,
        functions: Mapping[str, lambda_.IFunction],
        queues: Mapping[str, sqs.IQueue],
    ) -> None:
        total = "Sum"
        period = GRAPH_PERIOD
        names = sorted(functions)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=self.alarms, width=24, height=_alarm_widget_height(len(self.alarms))
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    state_machine.metric_started(label="Started", statistic=total, period=period),
                    state_machine.metric_succeeded(label="Succeeded", statistic=total, period=period),
                    state_machine.metric_failed(label="Failed", statistic=total, period=period),
                    state_machine.metric_timed_out(label="Timed out", statistic=total, period=period),
                    state_machine.metric_aborted(label="Aborted", statistic=total, period=period),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Execution duration (hours)",
                left=[
                    _hours(state_machine.metric_time(statistic=statistic, period=DURATION_GRAPH_PERIOD), label)
                    for statistic, label in (("Average", "Average"), ("Maximum", "Longest"))
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lambda errors",
                left=[functions[n].metric_errors(label=n, statistic=total, period=period) for n in names],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda throttles",
                left=[functions[n].metric_throttles(label=n, statistic=total, period=period) for n in names],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Lambda duration (p90, ms)",
                left=[functions[n].metric_duration(label=n, statistic="p90", period=GRAPH_PERIOD) for n in names],
                width=8,
            ),
        )
        max_lifetime_seconds = config.max_provisioned_throughput_hours * 3600
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Provisioned Throughputs past the maximum lifetime",
                left=[_custom_metric(OVERDUE_PROVISIONED_THROUGHPUTS, "Maximum", OVERDUE_ALARM_PERIOD)],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=ALARM_THRESHOLD, label="alarm")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Oldest Provisioned Throughput (seconds)",
                left=[_custom_metric(OLDEST_PROVISIONED_THROUGHPUT_AGE_SECONDS, "Maximum", GRAPH_PERIOD)],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=max_lifetime_seconds,
                        label=f"maximum lifetime ({config.max_provisioned_throughput_hours} h)",
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Cleaned up outside the workflow; runs started from uploads",
                left=[
                    _custom_metric(name, "Sum", GRAPH_PERIOD)
                    for name in (
                        PROVISIONED_THROUGHPUTS_DELETED_OUT_OF_BAND,
                        MODEL_DEPLOYMENTS_DELETED_OUT_OF_BAND,
                        JOBS_STOPPED_OUT_OF_BAND,
                        EVALUATION_JOBS_STOPPED_OUT_OF_BAND,
                        EXECUTIONS_STARTED_FROM_UPLOADS,
                    )
                ],
                width=8,
            ),
        )
        self._add_serving_and_judge_widgets(config)
        if queues:
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Dead-letter queue depth",
                    left=[
                        queue.metric_approximate_number_of_messages_visible(
                            statistic="Maximum", period=GRAPH_PERIOD, label=name
                        )
                        for name, queue in sorted(queues.items())
                    ],
                    left_annotations=[cloudwatch.HorizontalAnnotation(value=ALARM_THRESHOLD, label="alarm")],
                    width=24,
                )
            )

    def _add_serving_and_judge_widgets(self, config: DistillConfig) -> None:
        """How runs served their students (deployments, PTs) and what the judge decided."""
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Serving bought and released by runs",
                left=[
                    _custom_metric(name, "Sum", GRAPH_PERIOD)
                    for name in (
                        MODEL_DEPLOYMENTS_CREATED,
                        MODEL_DEPLOYMENTS_DELETED,
                        PROVISIONED_MODEL_UNITS_CREATED,
                        PROVISIONED_THROUGHPUTS_DELETED,
                    )
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Deployments and Provisioned Throughputs past the maximum lifetime",
                left=[
                    _custom_metric(name, "Maximum", OVERDUE_ALARM_PERIOD)
                    for name in (OVERDUE_MODEL_DEPLOYMENTS, OVERDUE_PROVISIONED_THROUGHPUTS)
                ],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=ALARM_THRESHOLD, label="alarm")],
                width=12,
            ),
        )
        judged = _custom_metric(STUDENT_PROMOTED, "SampleCount", JUDGE_GRAPH_PERIOD)
        promoted = _custom_metric(STUDENT_PROMOTED, "Sum", JUDGE_GRAPH_PERIOD)
        self.dashboard.add_widgets(
            cloudwatch.SingleValueWidget(
                title="Last judged run: student's share of the teacher's score (%), promoted (1) or held (0)",
                metrics=[
                    _custom_metric(STUDENT_SCORE_SHARE, "Average", GRAPH_PERIOD),
                    _custom_metric(STUDENT_PROMOTED, "Maximum", GRAPH_PERIOD),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Student's share of the teacher's score per day (%, lowest and highest)",
                left=[
                    _custom_metric(STUDENT_SCORE_SHARE, statistic, JUDGE_GRAPH_PERIOD).with_(label=label)
                    for statistic, label in (("Minimum", "lowest share"), ("Maximum", "highest share"))
                ],
                # Score publishes the share in percent; the decision promotes at promoteMinShare or above.
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=100 * config.evaluation.promote_min_share, label="promote at or above"
                    )
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Judge decisions per day; evaluation jobs and failed prompts",
                left=[
                    promoted.with_(label="promoted"),
                    cloudwatch.MathExpression(
                        expression="judged - promoted",
                        using_metrics={"judged": judged, "promoted": promoted},
                        label="held",
                        period=JUDGE_GRAPH_PERIOD,
                    ),
                    _custom_metric(EVALUATION_JOBS_CREATED, "Sum", JUDGE_GRAPH_PERIOD),
                    _custom_metric(TEACHER_PROMPTS_FAILED, "Sum", JUDGE_GRAPH_PERIOD),
                    _custom_metric(VALIDATION_PROMPTS_FAILED, "Sum", JUDGE_GRAPH_PERIOD),
                ],
                width=8,
            ),
        )


def _custom_metric(name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
    """A metric the pipeline's functions publish through Powertools (see `bedrock_distill.observability`)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map=dict(METRICS_SERVICE_DIMENSION),
        statistic=statistic,
        period=period,
        label=name,
    )


def _hours(milliseconds: cloudwatch.IMetric, label: str) -> cloudwatch.MathExpression:
    metric_id = f"{label.lower()}Milliseconds"  # ids are per graph: one per line
    return cloudwatch.MathExpression(
        expression=f"{metric_id} / {MILLISECONDS_PER_HOUR}",
        using_metrics={metric_id: milliseconds},
        label=label,
        period=DURATION_GRAPH_PERIOD,
    )


def _alarm_widget_height(count: int) -> int:
    """The alarm status widget lists alarms in rows of four."""
    return max(2, 1 + -(-count // 4))
