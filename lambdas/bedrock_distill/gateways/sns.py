"""Amazon SNS: the pipeline's notification topic."""

from __future__ import annotations

from typing import Final

from bedrock_distill.gateways.calls import aws_call
from bedrock_distill.gateways.clients import LazyClient

SERVICE: Final = "sns"
# SNS Publish: a Subject is at most 100 characters (SNS API reference, Publish).
MAX_SUBJECT_CHARS: Final = 100


class SnsGateway:
    def __init__(self, sns: LazyClient | None = None) -> None:
        self._sns = sns or LazyClient(SERVICE)

    def publish(self, topic_arn: str, subject: str, message: str, attributes: dict[str, str]) -> str:
        """Publishes; returns the message id. `attributes` become String message attributes."""
        response = aws_call(
            SERVICE,
            "Publish",
            lambda: self._sns.client.publish(
                TopicArn=topic_arn,
                Subject=subject[:MAX_SUBJECT_CHARS],
                Message=message,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
                },
            ),
        )
        return str(response["MessageId"])
