"""Recognizes, from a file's first bytes, a file that is not ``bedrock-conversation-2024`` JSONL at all.

Line-by-line validation of such a file repeats the same few problems on every line and never says
what the file is. One look at the head names the format and the fix instead: gzip, UTF-16/32, text
that is not UTF-8, CR-only line endings, a JSON array or pretty-printed JSON, and the dataset formats
that ``distill convert`` reads (prompt/completion JSONL, OpenAI chat-format JSONL, CSV with a header).

Only the head is read, so the cost does not grow with the file: a valid dataset pays for parsing a
few of its lines twice.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from typing import Final

import orjson

from bedrock_distill.gateways.s3 import is_s3_uri

# Enough for several ordinary records; a record larger than this is simply not sampled.
HEAD_BYTES: Final = 64 * 1024
# A known dataset format is named only when every sampled line has its shape.
SAMPLED_LINES: Final = 10
# Text that is not UTF-8 is a file-level problem once this many sampled lines hold invalid bytes; a
# single bad line stays a line-level problem with its own location.
NOT_UTF8_LINES: Final = 2
# A CSV header cell: a name, not a sentence.
_COLUMN_NAME = re.compile(r"^[A-Za-z_][\w .-]{0,63}$")

_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
# UTF-32 before UTF-16: the UTF-32LE BOM begins with the UTF-16LE one.
_UNICODE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)", "UTF-32LE"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)", "UTF-32BE"),
    (b"\xff\xfe", "UTF-16 (little-endian)", "UTF-16LE"),
    (b"\xfe\xff", "UTF-16 (big-endian)", "UTF-16BE"),
)

# Without a BOM, the NULs that the first two characters of a JSONL file ('{"', ASCII) have in each wide
# encoding (UTF-32 checked first again). UTF-8 JSONL never holds a NUL (JSON forbids raw control characters),
# so this pattern plus a clean decode is enough, however little of the text is ASCII (CJK text has few NULs).
_NUL_PATTERNS = (
    ((1, 2, 3), "UTF-32 (little-endian)", "UTF-32LE"),
    ((0, 1, 2), "UTF-32 (big-endian)", "UTF-32BE"),
    ((1, 3), "UTF-16 (little-endian)", "UTF-16LE"),
    ((0, 2), "UTF-16 (big-endian)", "UTF-16BE"),
)
# A CR that ends a record: bare (no LF after it, other than after more CRs or blanks) and followed by the
# next record's "{". JSON allows CR only as whitespace between tokens, where a "{" rarely follows it.
_CR_BEFORE_RECORD = re.compile(rb"\r[ \t\r]*\{")


@dataclass(frozen=True, slots=True)
class FileFormat:
    """What a file is instead of bedrock-conversation-2024 JSONL, and how to fix it."""

    name: str  # short, for the verdict: "prompt/completion JSONL"
    reason: str  # the whole problem: the format, why it cannot be used, the fix


def recognize_file_format(head: bytes, source: str, *, whole_file: bool) -> FileFormat | None:
    """The format of a file whose first bytes are ``head``, or None when it may be JSONL records.

    ``whole_file`` says the head holds the entire file, so its last line is complete.
    """
    if head.startswith(_GZIP_MAGIC):
        return FileFormat(
            "gzip",
            "the file is gzip-compressed; Bedrock reads training data as uncompressed JSONL: "
            f"decompress it (gunzip -c {_shell_name(source)} > records.jsonl) and use the .jsonl file",
        )
    wide = _wide_encoding(head)
    if wide is not None:
        label, iconv_name = wide
        return FileFormat(
            label,
            f"the file is {label} text; Bedrock reads UTF-8 only: re-encode it "
            f"(iconv -f {iconv_name} -t UTF-8 {_shell_name(source)} > records.jsonl)",
        )
    text = head.removeprefix(_UTF8_BOM)
    lines = text.split(b"\n")
    if not whole_file and len(lines) > 1:
        lines.pop()  # cut by the head's end
    if _has_cr_only_line_endings(text):
        return FileFormat(
            "CR-only line endings",
            "lines end in CR only (classic Mac OS line endings), so records run together on one "
            f"line: convert the line endings to LF (tr '\\r' '\\n' < {_shell_name(source)} > records.jsonl)",
        )
    sampled = [line.strip() for line in lines if line.strip()][:SAMPLED_LINES]
    if not sampled:
        return None
    return _not_utf8(sampled, source) or _json_document(sampled[0], source) or _dataset_format(sampled, source)


def _has_cr_only_line_endings(text: bytes) -> bool:
    """Whether lines end in CR alone: with no LF at all, or with more records after a bare CR than LFs (a
    CR-only file with a final LF, or one whose first lines were joined with LF)."""
    if b"\n" not in text:
        first_cr = text.find(b"\r")
        return first_cr != -1 and bool(text[first_cr:].strip())
    return len(_CR_BEFORE_RECORD.findall(text)) >= text.count(b"\n")


def _wide_encoding(head: bytes) -> tuple[str, str] | None:
    """UTF-16 or UTF-32, from the byte order mark or, without one, from where the first two (ASCII)
    characters put their NULs, confirmed by the head decoding cleanly in that encoding."""
    for bom, label, iconv_name in _UNICODE_BOMS:
        if head.startswith(bom):
            return label, iconv_name
    sample = head[:4096]
    if len(sample) < 4:
        return None
    for nul_positions, label, iconv_name in _NUL_PATTERNS:
        if all(sample[position] == 0 for position in nul_positions) and _decodes(sample, iconv_name):
            return label, iconv_name
    return None


def _decodes(sample: bytes, codec: str) -> bool:
    """Whether the sample is text in ``codec``; a character cut by the sample's end does not count."""
    try:
        codecs.getincrementaldecoder(codec)().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _not_utf8(sampled: list[bytes], source: str) -> FileFormat | None:
    invalid: list[tuple[int, int]] = []  # (sampled line, offending byte)
    for index, line in enumerate(sampled):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            invalid.append((index, line[error.start]))
    if len(invalid) < NOT_UTF8_LINES:
        return None
    first_byte = invalid[0][1]
    return FileFormat(
        "not UTF-8",
        f"the file is not UTF-8: {len(invalid)} of its first {len(sampled)} lines hold bytes that are not "
        f"valid UTF-8 (such as 0x{first_byte:02X}), as text saved in Latin-1 or Windows-1252 does; Bedrock "
        f"reads UTF-8 only: re-encode it (iconv -f WINDOWS-1252 -t UTF-8 {_shell_name(source)} > records.jsonl)",
    )


def _json_document(first: bytes, source: str) -> FileFormat | None:
    """A JSON array, or JSON pretty-printed over several lines, where JSONL has one record per line."""
    if first.startswith(b"["):
        document = _loads(first)
        # One line holding a whole array of objects is the same mistake; any other array is a bad record.
        if document is _NOT_JSON or (isinstance(document, list) and any(isinstance(item, dict) for item in document)):
            return FileFormat(
                "JSON array",
                "the file is one JSON array, not JSON Lines (one record per line): write each element "
                f"on its own line (jq -c '.[]' {_shell_name(source)} > records.jsonl)",
            )
    if first == b"{":
        return FileFormat(
            "pretty-printed JSON",
            "the file is pretty-printed JSON (a record spread over several lines), not JSON Lines: write "
            f"each record on one line (jq -c . {_shell_name(source)} > records.jsonl)",
        )
    return None


def _dataset_format(sampled: list[bytes], source: str) -> FileFormat | None:
    if not sampled[0].startswith(b"{"):
        return _csv_header(sampled, source)
    kinds = {_record_kind(_loads(line)) for line in sampled}
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    if kind == "prompt-completion":
        return FileFormat(
            "prompt/completion JSONL",
            'the file is prompt/completion JSONL ({"prompt": ..., "completion": ...}), not '
            "bedrock-conversation-2024: convert it, keeping each completion as the golden answer "
            f"(distill convert {_shell_name(source)} --from prompt-completion)",
        )
    if kind == "openai-chat":
        return FileFormat(
            "OpenAI chat-format JSONL",
            'the file is OpenAI chat-format JSONL ({"messages": [{"role": "system", "content": "..."}, ...]}), '
            "not bedrock-conversation-2024: convert it, moving the system message to system "
            f"(distill convert {_shell_name(source)} --from openai-chat)",
        )
    return None


_NOT_JSON: Final = object()


def _loads(line: bytes) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _record_kind(document: object) -> str | None:
    """The dataset format one parsed line belongs to; None for anything that may be a Bedrock record."""
    if not isinstance(document, dict) or "schemaVersion" in document:
        return None
    if "prompt" in document and "messages" not in document:
        return "prompt-completion"
    messages = document.get("messages")
    if isinstance(messages, list) and any(
        isinstance(message, dict) and (message.get("role") == "system" or isinstance(message.get("content"), str))
        for message in messages
    ):
        return "openai-chat"
    return None


def _csv_header(sampled: list[bytes], source: str) -> FileFormat | None:
    """A header row of column names, followed by a row that also has several columns."""
    try:
        rows = [next(csv.reader([line.decode("utf-8")]), []) for line in sampled[:2]]
    except (UnicodeDecodeError, csv.Error):  # csv.Error: a CR inside a line, which no CSV header has
        return None
    names = [column.strip() for column in rows[0]]
    if len(names) < 2 or not all(_COLUMN_NAME.match(name) for name in names):
        return None
    if len(rows) > 1 and len(rows[1]) < 2:
        return None  # prose with a comma in its first line, not a table
    return FileFormat(
        "CSV with a header",
        f"the file is CSV with a header row (columns: {', '.join(names)}), not JSON Lines: convert it "
        f"(distill convert {_shell_name(source)} --from csv)",
    )


def _shell_name(source: str) -> str:
    """The file as a command line would name it: ``distill convert`` and the shell tools read local files."""
    return "FILE" if is_s3_uri(source) else source
