"""The operator's side of a deployed pipeline: what the ``distill`` subcommands for real accounts do.

``start``, ``status``, ``list``, ``report`` and ``generate-logs`` live here as domain code: they find the
deployed stack from its outputs, reach AWS through small gateways whose boto3 clients are created on
first use (one session per command, honouring ``--profile``, ``--region`` and ``--endpoint-url``), and
never import Lambda or CDK code. ``distill_cli.main`` only parses arguments and prints.
"""

from distill_cli.errors import OperatorError
from distill_cli.session import AwsOptions, AwsSession

__all__ = ["AwsOptions", "AwsSession", "OperatorError"]
