"""How large one record may be, and how many input tokens a dataset's text is estimated at.

Bedrock documents no per-record byte limit for distillation input (the user guide's "Prepare your
training datasets for distillation" says only that records "must also conform to size requirements"),
so the limit is derived from the students' context windows and stated with its reasoning wherever it is
reported.
"""

from __future__ import annotations

import math
from typing import Final

# The smallest context window among the supported students is 128K tokens (Nova Micro, Llama 3.1 8B,
# Llama 3.2 1B/3B); at the usual ~4 bytes of English per token, 512 KiB is ~128K tokens: a larger
# record cannot fit any student.
MAX_RECORD_BYTES: Final = 512 * 1024
RECORD_SIZE_REASON: Final = (
    f"the limit is {MAX_RECORD_BYTES:,} bytes (512 KiB, ~128K tokens at ~4 bytes per token: the "
    "context window of the smallest supported students; Bedrock documents no tighter per-record limit)"
)
# A heuristic, not a tokenizer: English text averages about four characters per token.
CHARS_PER_TOKEN: Final = 4


def oversize_reason(length: int) -> str:
    """Why a record of ``length`` bytes (over MAX_RECORD_BYTES) is refused."""
    return f"record is {length:,} bytes; {RECORD_SIZE_REASON}"


def estimated_tokens(characters: int) -> int:
    return math.ceil(characters / CHARS_PER_TOKEN)
