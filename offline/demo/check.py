"""The demo's closing check of each world, after its scenes whatever happened in them: the outcome messages on the
topic, no Provisioned Throughput and no custom model deployment left (the demo keeps none on purpose: no run asks
for keepDeployment), no evaluation job left running, and every AWS call authorized against the synthesized roles."""

from __future__ import annotations

from collections import Counter

from rich.console import Console

from offline.demo.world import World


def check_nothing_left(console: Console, world: World) -> bool:
    """True when no Provisioned Throughput, no custom model deployment and no running evaluation job is left."""
    console.rule(f"Check: {world.region}")
    messages = Counter(
        f"{message['status']} {message['execution_arn'].rsplit(':', 1)[-1]}" for message in world.inbox.receive()
    )
    console.print(f"Outcome messages on the topic: {', '.join(f'{key} x{count}' for key, count in messages.items())}")
    bedrock = world.bedrock
    left_pts = bedrock.live_provisioned_throughputs()
    left_deployments = bedrock.live_model_deployments()
    running_judges = [job for job in bedrock.evaluation_jobs.values() if job.status in {"InProgress", "Stopping"}]
    for pt in left_pts:
        console.print(f"Provisioned Throughput LEFT RUNNING: {pt.arn} ({pt.status})", style="bold red")
    for deployment in left_deployments:
        console.print(f"Custom model deployment LEFT: {deployment.arn} ({deployment.status})", style="bold red")
    for job in running_judges:
        console.print(f"Evaluation job LEFT RUNNING: {job.arn} ({job.status})", style="bold red")
    if left_pts or left_deployments or running_judges:
        return False
    throughputs = bedrock.provisioned_throughputs.values()
    deployments = bedrock.model_deployments.values()
    judges = bedrock.evaluation_jobs.values()
    console.print(
        f"Checked: no Provisioned Throughput left ({len(throughputs)} created, "
        f"{sum(pt.deleted for pt in throughputs)} deleted); no custom model deployment left ({len(deployments)} "
        f"created, {sum(d.deleted for d in deployments)} deleted, none kept); no evaluation job running "
        f"({len(judges)} created, {sum(job.status == 'Completed' for job in judges)} completed)",
        style="green",
    )
    return True


def print_iam_summary(console: Console, world: World) -> bool:
    """True when no call was denied."""
    enforcer = world.pipeline.enforcer
    assert enforcer is not None  # set by deploy()
    callers = {a.principal.session_arn for a in enforcer.authorizations}
    console.print(
        f"IAM: {len(enforcer.authorizations)} requests authorized against the synthesized policies of "
        f"{len(callers)} callers (functions and the service roles), {len(enforcer.denials)} denied"
    )
    for denial in enforcer.denials:
        console.print(f"  denied: {denial.message}", style="bold red")
    return not enforcer.denials
