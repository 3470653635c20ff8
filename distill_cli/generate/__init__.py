"""`distill generate-logs`: prompts through the teacher with requestMetadata, so invocation logs accumulate.

prompts.py reads and checks the prompts file and the metadata, progress.py keeps the record of prompts
already sent so a rerun resumes, and engine.py sends them through Converse under a congestion window.
"""

from distill_cli.generate.engine import (
    ADAPTIVE_RETRIES,
    GenerateResult,
    GenerateSettings,
    generate_logs,
)
from distill_cli.generate.progress import ProgressFile, default_progress_path, prompt_keys
from distill_cli.generate.prompts import (
    check_metadata,
    check_prompts,
    parse_metadata,
    prompt_format,
    read_prompts,
)

__all__ = [
    "ADAPTIVE_RETRIES",
    "GenerateResult",
    "GenerateSettings",
    "ProgressFile",
    "check_metadata",
    "check_prompts",
    "default_progress_path",
    "generate_logs",
    "parse_metadata",
    "prompt_format",
    "prompt_keys",
    "read_prompts",
]
