from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct


def short_lived_table(
    scope: Construct, construct_id: str, *, key: kms.IKey, partition_key: str, time_to_live_attribute: str
) -> dynamodb.Table:
    """A table of short-lived records the pipeline keeps for itself: on demand, encrypted with the project key,
    recoverable, emptied by TTL, and deleted with the stack (nothing in it outlives a run)."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=time_to_live_attribute,
        removal_policy=RemovalPolicy.DESTROY,
    )
