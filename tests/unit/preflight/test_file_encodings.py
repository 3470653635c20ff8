"""CR-only line endings and UTF-16/UTF-32 files, in every spelling a real editor produces, are named as such in
one file-level problem, by `distill validate` and by Preflight alike, instead of per-line JSON errors."""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bedrock_distill.preflight import Severity, validate_dataset
from distill_cli.main import main
from tests.unit.preflight.conftest import conversation

pytestmark = pytest.mark.unit

RECORDS = 120
# Text that is mostly not ASCII: in UTF-16 or UTF-32 without a BOM it holds few NULs.
CJK = "请总结这张工单并给出处理建议" * 40


def _lines(text: str = "Summarise ticket") -> list[str]:
    return [json.dumps(conversation(f"{text} {index}?", "Done."), ensure_ascii=False) for index in range(RECORDS)]


def _encoded(encoding: str, bom: bytes = b"", text: str = "Summarise ticket") -> Callable[[], bytes]:
    return lambda: bom + "".join(line + "\n" for line in _lines(text)).encode(encoding)


CR = "CR only (classic Mac OS line endings)"
CASES: dict[str, tuple[Callable[[], bytes], str, str]] = {
    # name: (file contents, the cause the problem names, the fix it gives)
    "CR-only": (lambda: "\r".join(_lines()).encode() + b"\r", CR, "tr '\\r' '\\n'"),
    "CR-only, final LF": (lambda: "\r".join(_lines()).encode() + b"\r\n", CR, "tr '\\r' '\\n'"),
    "CR-only after an LF first line": (
        lambda: b"\n".join([_lines()[0].encode(), "\r".join(_lines()[1:]).encode()]) + b"\r",
        CR,
        "tr '\\r' '\\n'",
    ),
    "CR-only, UTF-8 BOM": (lambda: codecs.BOM_UTF8 + "\r".join(_lines()).encode(), CR, "tr '\\r' '\\n'"),
    "UTF-16 LE, BOM": (_encoded("utf-16-le", codecs.BOM_UTF16_LE), "UTF-16 (little-endian)", "iconv -f UTF-16LE"),
    "UTF-16 BE, BOM": (_encoded("utf-16-be", codecs.BOM_UTF16_BE), "UTF-16 (big-endian)", "iconv -f UTF-16BE"),
    "UTF-16 LE": (_encoded("utf-16-le"), "UTF-16 (little-endian)", "iconv -f UTF-16LE"),
    "UTF-16 BE": (_encoded("utf-16-be"), "UTF-16 (big-endian)", "iconv -f UTF-16BE"),
    "UTF-16 LE, CJK": (_encoded("utf-16-le", text=CJK), "UTF-16 (little-endian)", "iconv -f UTF-16LE"),
    "UTF-16 BE, CJK": (_encoded("utf-16-be", text=CJK), "UTF-16 (big-endian)", "iconv -f UTF-16BE"),
    "UTF-32 LE, BOM": (_encoded("utf-32-le", codecs.BOM_UTF32_LE), "UTF-32 (little-endian)", "iconv -f UTF-32LE"),
    "UTF-32 BE, BOM": (_encoded("utf-32-be", codecs.BOM_UTF32_BE), "UTF-32 (big-endian)", "iconv -f UTF-32BE"),
    "UTF-32 LE": (_encoded("utf-32-le"), "UTF-32 (little-endian)", "iconv -f UTF-32LE"),
    "UTF-32 BE, CJK": (_encoded("utf-32-be", text=CJK), "UTF-32 (big-endian)", "iconv -f UTF-32BE"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_real_cause_is_named_in_one_file_level_problem(tmp_path: Path, name: str) -> None:
    # Given 120 good records saved with these line endings or in this encoding
    contents, cause, fix = CASES[name]
    path = tmp_path / "data.jsonl"
    path.write_bytes(contents())

    # When the dataset is validated (as Preflight and distill validate do)
    report = validate_dataset(str(path))

    # Then one problem, for the whole file, names the cause and the fix
    assert [(p.line, p.field, p.severity) for p in report.problems] == [(1, "(file)", Severity.ERROR)]
    assert cause in report.problems[0].reason
    assert fix in report.problems[0].reason


@pytest.mark.parametrize(
    ("name", "contents"),
    [
        ("LF", lambda: "".join(line + "\n" for line in _lines()).encode()),
        ("CRLF", lambda: "".join(line + "\r\n" for line in _lines()).encode()),
        ("CRLF with a stray CR", lambda: "".join(line + "\r\r\n" for line in _lines()).encode()),
        ("UTF-8 CJK", lambda: "".join(line + "\n" for line in _lines(CJK)).encode()),
        ("UTF-8 BOM", lambda: codecs.BOM_UTF8 + "".join(line + "\n" for line in _lines()).encode()),
    ],
)
def test_utf8_with_lf_or_crlf_is_not_mistaken_for_them(
    tmp_path: Path, name: str, contents: Callable[[], bytes]
) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(contents())
    report = validate_dataset(str(path))
    assert not any(p.field == "(file)" for p in report.problems), (name, report.problems[:2])


def test_distill_validate_prints_the_one_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a UTF-16 file without a BOM, mostly CJK text
    path = tmp_path / "data.jsonl"
    path.write_bytes(CASES["UTF-16 LE, CJK"][0]())

    # When distill validate reads it
    code = main(["validate", str(path)])

    # Then it exits 1 with one located problem naming the encoding, not per-line JSON or UTF-8 errors
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    problems = [line for line in out if line.startswith(f"{path}:") and not line.startswith(f"{path}: ")]
    assert problems == [
        f"{path}:1: (file): the file is UTF-16 (little-endian) text; Bedrock reads UTF-8 only: re-encode it "
        f"(iconv -f UTF-16LE -t UTF-8 {path} > records.jsonl)"
    ]
