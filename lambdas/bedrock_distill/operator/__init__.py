"""The operator's side of a deployed pipeline: what the ``distill`` subcommands for real accounts do.

``start``, ``status``, ``list``, ``report`` and ``generate-logs`` live here as domain code: they find the
deployed stack from its outputs, reach AWS through small gateways whose boto3 clients are created on
first use (one session per command, honouring ``--profile``, ``--region`` and ``--endpoint-url``), and
never import Lambda or CDK code. ``bedrock_distill.cli`` only parses arguments and prints.
"""

from bedrock_distill.operator.errors import OperatorError
from bedrock_distill.operator.session import AwsOptions, AwsSession

__all__ = ["AwsOptions", "AwsSession", "OperatorError"]
