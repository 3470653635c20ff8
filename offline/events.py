"""EventBridge for the offline pipeline: the stack's rules in moto, delivered to the in-process handlers.

moto's EventBridge matches events against real rules and patterns (the same pattern functions the CDK
rules use, from `stacks/pipeline_spec.py`), but delivers only to SQS, not to Lambda. So each rule here
targets an SQS queue standing in for Lambda's asynchronous-invocation queue, and `EventPump` drains the
queues into the handlers with the rules' retry-then-dead-letter behaviour. moto's Step Functions emits
no "Execution Status Change" events, so the pump emits them for the state machine it watches, as AWS would.

The pump delivers on its own thread, as EventBridge does, so what a handler does happens some time after the
event. `EventPump.settle` waits for that time to be over: tests assert on out-of-band effects only after it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from bedrock_distill.gateways.stepfunctions import TERMINAL_STATUSES
from bedrock_distill.workflow.execution_end import EXECUTION_EVENT_SOURCE, EXECUTION_STATUS_CHANGE
from offline.lambda_runtime import LocalLambdas


@dataclass(frozen=True)
class LocalRule:
    name: str
    function_name: str
    pattern: dict[str, Any] | None = None
    schedule: str | None = None


@dataclass
class Delivery:
    rule: str
    function_name: str
    event: dict[str, Any]
    attempts: int
    succeeded: bool
    result: Any


@dataclass
class EventPump:
    """Drains each rule's queue into its function; emits execution status changes; advances logical time."""

    lambdas: LocalLambdas
    state_machine_arn: str
    attempts: int = 2
    interval_seconds: float = 0.05
    # Called on every tick (e.g. the Bedrock emulator's `advance`), so event-driven waits make progress.
    on_tick: Callable[[], None] | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    _queues: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # rule -> (function, queue, dlq)
    _statuses: dict[str, str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Ticks are numbered as they begin; `settle` waits for a quiet one begun after it was called.
    _ticked: threading.Condition = field(default_factory=threading.Condition)
    _ticks_begun: int = 0
    _last_quiet_tick: int = 0
    _last_activity: str = "no tick yet"

    def add_rule(self, rule: LocalRule, prefix: str) -> None:
        events = boto3.client("events")
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName=f"{prefix}-{rule.name}-target")["QueueUrl"]
        dlq_url = sqs.create_queue(QueueName=f"{prefix}-{rule.name}-dlq")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        if rule.pattern is not None:
            events.put_rule(Name=f"{prefix}-{rule.name}", EventPattern=json.dumps(rule.pattern))
            events.put_targets(Rule=f"{prefix}-{rule.name}", Targets=[{"Id": "function", "Arn": queue_arn}])
        else:
            # moto lets a patternless rule match every event; a schedule fires only through `fire`.
            events.put_rule(Name=f"{prefix}-{rule.name}", ScheduleExpression=rule.schedule or "rate(1 hour)")
        self._queues[rule.name] = (rule.function_name, queue_url, dlq_url)

    @property
    def rules(self) -> list[str]:
        """The names of the rules whose events this pump delivers."""
        return list(self._queues)

    def start(self) -> EventPump:
        self._thread = threading.Thread(target=self._run, name="event-pump", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def pump_once(self) -> bool:
        """One tick: time moves, finished executions announce themselves, queued events reach handlers.
        Returns whether the tick was quiet: no execution running, none to announce, no event to deliver."""
        with self._lock:
            with self._ticked:
                self._ticks_begun += 1
                tick = self._ticks_begun
            if self.on_tick is not None:
                self.on_tick()
            running, announced = self._emit_execution_status_changes()
            delivered = sum(self._drain(rule) for rule in self._queues)
        quiet = not (running or announced or delivered)
        with self._ticked:
            if quiet:
                self._last_quiet_tick = tick
            self._last_activity = (
                f"{len(running)} execution(s) running {running}, {announced} end(s) announced, "
                f"{delivered} event(s) delivered"
            )
            self._ticked.notify_all()
        return quiet

    def settle(self, timeout_seconds: float = 120.0) -> None:
        """Returns once a tick begun after this call was quiet: every execution of the state machine has ended
        and been announced, and every event those ends and their handlers set off has been delivered. So an
        assertion after it sees every out-of-band effect there will be, and no delivery can race it."""
        deadline = time.monotonic() + timeout_seconds
        with self._ticked:
            called_at = self._ticks_begun
        while True:
            with self._ticked:
                if self._last_quiet_tick > called_at:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the event pump not settled after {timeout_seconds} s: {self._last_activity}")
                if self._thread is not None and self._thread.is_alive() and not self._stop.is_set():
                    self._ticked.wait(min(remaining, 1.0))
                    continue
            # No pump thread (not started, stopped, or died of an error): tick here, where an error surfaces.
            if not self.pump_once():
                time.sleep(self.interval_seconds)

    def fire(self, rule: str, event: dict[str, Any] | None = None) -> Delivery:
        """Deliver one event to a rule's function now, as a schedule firing would."""
        function_name, _, dlq_url = self._queues[rule]
        with self._lock:
            return self._deliver(rule, function_name, dlq_url, event or _scheduled_event())

    def dead_letters(self, rule: str) -> list[dict[str, Any]]:
        _, _, dlq_url = self._queues[rule]
        messages = boto3.client("sqs").receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def deliveries_to(self, rule: str) -> list[Delivery]:
        return [delivery for delivery in self.deliveries if delivery.rule == rule]

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self.pump_once()

    def _drain(self, rule: str) -> int:
        """Delivers every queued event of `rule`; returns how many."""
        function_name, queue_url, dlq_url = self._queues[rule]
        sqs = boto3.client("sqs")
        delivered = 0
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                event = json.loads(message["Body"])
                # moto 5.2 drops the envelope's `account` on the way to SQS; EventBridge always sends it.
                event.setdefault("account", queue_url.rstrip("/").split("/")[-2])
                self._deliver(rule, function_name, dlq_url, event)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                delivered += 1
        return delivered

    def _deliver(self, rule: str, function_name: str, dlq_url: str, event: dict[str, Any]) -> Delivery:
        payload = json.dumps(event).encode()
        result: Any = None
        for attempt in range(1, self.attempts + 1):
            response = self.lambdas.invoke(function_name, payload)
            result = json.loads(response["Payload"].read())
            if "FunctionError" not in response:
                delivery = Delivery(rule, function_name, event, attempt, succeeded=True, result=result)
                break
        else:
            boto3.client("sqs").send_message(QueueUrl=dlq_url, MessageBody=json.dumps(event))
            delivery = Delivery(rule, function_name, event, self.attempts, succeeded=False, result=result)
        self.deliveries.append(delivery)
        return delivery

    def _emit_execution_status_changes(self) -> tuple[list[str], int]:
        """Announces the executions that ended since the last tick; returns the names of those still running
        and how many were announced."""
        client = boto3.client("stepfunctions")
        executions = client.list_executions(stateMachineArn=self.state_machine_arn, maxResults=100)["executions"]
        running: list[str] = []
        announced = 0
        for summary in executions:
            arn, status = summary["executionArn"], summary["status"]
            if status not in TERMINAL_STATUSES:
                running.append(summary["name"])
            if self._statuses.get(arn) == status:
                continue
            self._statuses[arn] = status
            if status in TERMINAL_STATUSES:
                self._put_status_change(client.describe_execution(executionArn=arn))
                announced += 1
        return running, announced

    def _put_status_change(self, execution: dict[str, Any]) -> None:
        detail = {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": int(execution["startDate"].timestamp() * 1000),
            "stopDate": int(execution.get("stopDate", datetime.now(UTC)).timestamp() * 1000),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        }
        boto3.client("events").put_events(
            Entries=[
                {
                    "Source": EXECUTION_EVENT_SOURCE,
                    "DetailType": EXECUTION_STATUS_CHANGE,
                    "Detail": json.dumps(detail),
                    "Resources": [execution["executionArn"]],
                }
            ]
        )


def _scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).isoformat(),
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }
