"""An offline Amazon Bedrock for tests: answers the real boto3 `bedrock` and `bedrock-runtime` calls
in-process while moto serves the rest of AWS.

    with mock_aws(), bedrock_emulator(seconds_per_status_read=3600) as bedrock:
        ...  # code under test calls boto3.client("bedrock") as in production
        bedrock.clock.elapsed_seconds

Job status changes are emitted as Bedrock's EventBridge events: `bedrock_emulator(event_sinks=[...])` or
`bedrock.subscribe(sink)`; `eventbridge_sink()` puts them on moto's default bus. `bedrock.advance(seconds)`
moves the clock and emits what happened meanwhile.

Import this package before the code under test creates its clients, as with moto.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from offline.bedrock_emulator.clock import LogicalClock
from offline.bedrock_emulator.deployments import ModelDeployment
from offline.bedrock_emulator.errors import UnsupportedOperationError
from offline.bedrock_emulator.evaluations import EvaluationJob
from offline.bedrock_emulator.events import Event, EventSink, eventbridge_sink
from offline.bedrock_emulator.faults import DEFAULT_STUDENT_FIDELITY, Faults
from offline.bedrock_emulator.jobs import Job
from offline.bedrock_emulator.service import BedrockEmulator, RecordedCall
from offline.bedrock_emulator.throughput import ProvisionedThroughput

__all__ = [
    "DEFAULT_STUDENT_FIDELITY",
    "BedrockEmulator",
    "EvaluationJob",
    "Event",
    "EventSink",
    "Faults",
    "Job",
    "LogicalClock",
    "ModelDeployment",
    "ProvisionedThroughput",
    "RecordedCall",
    "UnsupportedOperationError",
    "bedrock_emulator",
    "eventbridge_sink",
]


@contextmanager
def bedrock_emulator(**options: Any) -> Iterator[BedrockEmulator]:
    """A started BedrockEmulator (see its constructor for `options`), stopped on exit."""
    with BedrockEmulator(**options) as emulator:
        yield emulator
