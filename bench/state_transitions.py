"""What waiting for a 7-day job costs, computed from the state machine definition.

Before job events, the workflow polled: a Wait state, a status read and a choice every 300 s. Now the job
wait is a callback (`WaitForJobEvent`) released by the job's state-change event, with a fallback status
read every `jobPollIntervalSeconds` in case an event is lost. Both loops are the same three-state cycle;
only how long one round lasts differs.

    .venv/bin/python bench/state_transitions.py
"""

from __future__ import annotations

import json
from pathlib import Path

from stacks.pipeline_spec import WORKFLOW_FUNCTIONS, render_definition, substitutions
from stacks.workflow_budget import SEVEN_DAYS, job_wait_cycle, job_wait_transitions

PREVIOUS_POLL_SECONDS = 300
CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def main() -> None:
    arns = {name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}" for name in WORKFLOW_FUNCTIONS}
    definition = render_definition(substitutions(arns))
    fallback = int(json.loads(CDK_JSON.read_text())["context"]["jobPollIntervalSeconds"])
    cycle = " -> ".join(job_wait_cycle(definition))
    print(f"Job-wait cycle from the definition: {cycle} ({len(job_wait_cycle(definition))} states a round)\n")
    print("| a 7-day job | one round lasts | rounds | state transitions waiting |")
    print("|---|---:|---:|---:|")
    rows = [
        (f"before: poll every {PREVIOUS_POLL_SECONDS} s", PREVIOUS_POLL_SECONDS),
        (f"now: job event, fallback read every {fallback // 3600} h", fallback),
    ]
    for label, seconds in rows:
        transitions = job_wait_transitions(definition, SEVEN_DAYS, seconds)
        print(f"| {label} | {seconds:,} s | {-(-SEVEN_DAYS // seconds):,} | {transitions:,} |")


if __name__ == "__main__":
    main()
