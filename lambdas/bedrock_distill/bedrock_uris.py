"""The S3 URIs Bedrock accepts in a customization job, and how to make a key segment it accepts.

Bedrock's S3Uri shape (botocore's `bedrock` model; trainingDataConfig.s3Uri, outputDataConfig.s3Uri,
invocationLogSource.s3Uri) allows a bucket name, then key segments of letters, digits and - ! _ * ' ( ) .
separated by single slashes, at most 1024 characters: no spaces, `+`, `=`, `@`, `%` or other characters S3
itself would store. The pattern is a literal here, so no function loads botocore's model at cold start;
tests/unit/test_bedrock_uris.py asserts it is the model's.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

_KEY_CHARACTERS: Final = "-!_*'().a-z0-9A-Z"
_ALLOWED_IN_KEY: Final = "letters, digits and - ! _ * ' ( ) ."
_KEY_SEGMENT: Final = re.compile(f"[{_KEY_CHARACTERS}]+")
_NOT_KEY_CHARACTERS: Final = re.compile(f"[^{_KEY_CHARACTERS}]+")
_BUCKET: Final = re.compile(r"[a-z0-9][-.a-z0-9]{1,61}[a-z0-9]")
S3_URI: Final = re.compile(rf"s3://{_BUCKET.pattern}(?:/{_KEY_SEGMENT.pattern}(?:/{_KEY_SEGMENT.pattern})*)?/?")
S3_URI_MAX_LENGTH: Final = 1024
# A renamed segment keeps a digest of the original, so two names differing only in refused characters
# still get different folders.
_SEGMENT_DIGEST_LENGTH: Final = 12


def s3_uri_problem(uri: str) -> str | None:
    """Why Bedrock's S3Uri pattern refuses `uri` (what is wrong and what is allowed), or None if it accepts it."""
    if S3_URI.fullmatch(uri) and len(uri) <= S3_URI_MAX_LENGTH:
        return None
    if len(uri) > S3_URI_MAX_LENGTH:
        return f"it is {len(uri)} characters long; Bedrock takes at most {S3_URI_MAX_LENGTH}"
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not _BUCKET.fullmatch(bucket):
        return (
            "Bedrock takes s3://BUCKET/KEY with a bucket name of 3-63 lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit"
        )
    refused = sorted({character for character in key if character != "/" and not _KEY_SEGMENT.fullmatch(character)})
    if refused:
        listed = " ".join(repr(character) for character in refused)
        return f"its key has {listed}; Bedrock takes only {_ALLOWED_IN_KEY} in a key, with '/' between parts"
    return "its key has an empty part ('//'); Bedrock takes single '/' between parts"


def key_segment(text: str) -> str:
    """`text` as one key segment Bedrock accepts: unchanged if it is one, else its allowed characters (refused
    runs become '-') and a digest of the original. Segments of only dots are renamed too: tools normalize
    `.` and `..` in paths."""
    if _KEY_SEGMENT.fullmatch(text) and text.strip("."):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_SEGMENT_DIGEST_LENGTH]
    readable = _NOT_KEY_CHARACTERS.sub("-", text).strip("-.")
    return f"{readable}-{digest}" if readable else digest
