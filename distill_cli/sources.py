"""Arguments that name data: a local file, an s3:// object, or (for filters) inline JSON."""

from __future__ import annotations

from bedrock_distill.gateways.s3 import S3Gateway
from bedrock_distill.preflight.sources import read_chunks


def read_json_argument(value: str, s3: S3Gateway | None = None) -> tuple[str, bytes]:
    """(label, text): inline JSON when the argument looks like JSON, else the file or object it names."""
    if value.lstrip().startswith(("{", "[")):
        return "<argument>", value.encode()
    return value, b"".join(read_chunks(value, s3))
