"""Preflight checks that catch what Bedrock would reject or silently drop, before any job exists.

The pipeline's first Lambda and the ``distill`` CLI call the same functions:

- ``validate_dataset(source, student_model_id=None) -> DatasetReport``
- ``parse_filter(text) -> (document, violations)`` and ``check_filter(document) -> list[Violation]``
- ``scan_logs(source, metadata_filter=None, teacher_model_id=None, use_prompt_response=False) -> ScanReport``

Sources are local paths or ``s3://`` URIs; an unreadable source raises ``SourceError``.
"""

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.preflight.dataset import DatasetReport, validate_dataset
from bedrock_distill.preflight.filters import Violation, check_filter, compile_filter, filter_matches, parse_filter
from bedrock_distill.preflight.logscan import Exclusion, ScanReport, scan_logs
from bedrock_distill.preflight.problems import Problem, Severity
from bedrock_distill.preflight.sources import SourceError

__all__ = [
    "DatasetReport",
    "Exclusion",
    "Problem",
    "S3Gateway",
    "ScanReport",
    "Severity",
    "SourceError",
    "Violation",
    "check_filter",
    "compile_filter",
    "filter_matches",
    "parse_filter",
    "scan_logs",
    "validate_dataset",
]
