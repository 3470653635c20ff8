"""The demo's closing check, after every scene whatever happened in them: the outcome messages on the topic, no
Provisioned Throughput left billing, and every AWS call authorized against the synthesized roles."""

from __future__ import annotations

from collections import Counter

from rich.console import Console

from offline.demo.world import World


def check_nothing_left(console: Console, world: World) -> bool:
    """True when no Provisioned Throughput is left billing."""
    console.rule("Check")
    messages = Counter(
        f"{message['status']} {message['execution_arn'].rsplit(':', 1)[-1]}" for message in world.inbox.receive()
    )
    console.print(f"Outcome messages on the topic: {', '.join(f'{key} x{count}' for key, count in messages.items())}")
    left = world.bedrock.live_provisioned_throughputs()
    if left:
        for pt in left:
            console.print(f"Provisioned Throughput LEFT RUNNING: {pt.arn} ({pt.status})", style="bold red")
        return False
    throughputs = world.bedrock.provisioned_throughputs.values()
    created, deleted = len(throughputs), sum(pt.deleted for pt in throughputs)
    console.print(f"Checked: no Provisioned Throughput left ({created} created, {deleted} deleted)", style="green")
    return True


def print_iam_summary(console: Console, world: World) -> bool:
    """True when no call was denied."""
    enforcer = world.pipeline.enforcer
    assert enforcer is not None  # set by deploy()
    callers = {a.principal.session_arn.rsplit("/", 1)[-1] for a in enforcer.authorizations}
    console.print(
        f"IAM: {len(enforcer.authorizations)} requests authorized against the synthesized policies of "
        f"{len(callers)} callers (functions and the distillation service role), {len(enforcer.denials)} denied"
    )
    for denial in enforcer.denials:
        console.print(f"  denied: {denial.message}", style="bold red")
    return not enforcer.denials
