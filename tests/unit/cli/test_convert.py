"""distill convert: prompt/completion JSONL, OpenAI chat JSONL and CSV become bedrock-conversation-2024 that
`distill validate` accepts; every record is written or refused with FILE:LINE: field: reason; it streams."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
from moto import mock_aws

from distill_cli.convert import ConvertOptions, InputFormat, convert_dataset, default_output
from distill_cli.main import main
from tests.unit.cli.conftest import REGION, aws_client

pytestmark = pytest.mark.unit

SYSTEM = "You are a financial analyst. Answer only from the context."
NOVA_STUDENT = "amazon.nova-micro-v1:0:128k"
LLAMA_STUDENT = "meta.llama3-1-8b-instruct-v1:0"


def aws_sample_record(index: int) -> dict[str, str]:
    """The shape of AWS's own distillation sample data (amazon-bedrock-samples, model_distillation/SampleData):
    one {"prompt", "completion"} object per line, the prompt an instruction, a multi-line <context> with
    non-ASCII characters and quotes, and a question; the completion the answer."""
    prompt = (
        "You are a financial analyst charged with answering questions about 10K and 10Q SEC filings. "
        "Given the context below, answer the following question.\n\n<context>\n"
        f"Document {index}: FORM 10-K\n☒ ANNUAL REPORT PURSUANT TO SECTION 13\n"
        f'The Company\'s "Mobility" revenue was ${index},412 million; Registrant\u2019s number {index:05d}.\n'
        f"</context>\n\nQuestion: what was Mobility revenue in document {index}?"
    )
    return {"prompt": prompt, "completion": f"Mobility revenue in document {index} was ${index},412 million."}


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def turn(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"text": text}]}


def chat(*messages: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": role, "content": text} for role, text in messages], **extra}


# --- AWS's prompt/completion sample data -------------------------------------------------------------------


def test_aws_sample_data_converts_to_a_dataset_validate_accepts_with_every_record_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 200 records in the shape of AWS's own distillation sample data
    records = [aws_sample_record(index) for index in range(200)]
    source = write_jsonl(tmp_path / "uber10K.jsonl", records)
    output = tmp_path / "train.jsonl"

    # When it is converted with a system prompt
    code = main(["convert", str(source), "--from", "prompt-completion", "--output", str(output), "--system", SYSTEM])

    # Then every record is written, in order, with its completion as the golden answer
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"{source}: 200 prompt-completion records, 200 written, 0 refused, 0 blank lines skipped" in printed
    assert read_jsonl(output) == [
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": SYSTEM}],
            "messages": [turn("user", record["prompt"]), turn("assistant", record["completion"])],
        }
        for record in records
    ]
    # ... and `distill validate` accepts the result, keeping all 200
    assert main(["validate", str(output), "--student", NOVA_STUDENT]) == 0
    assert f"{output}: 200 records, 200 valid, 0 invalid" in capsys.readouterr().out


def test_without_system_the_records_have_none_and_the_default_output_sits_beside_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the sample data and no --output
    source = write_jsonl(tmp_path / "uber10K.jsonl", [aws_sample_record(index) for index in range(120)])

    # When it is converted without --system
    code = main(["convert", str(source), "--from", "prompt-completion"])

    # Then it is written to uber10K.bedrock.jsonl beside the input, without a system prompt
    assert code == 0, capsys.readouterr().out
    written = read_jsonl(tmp_path / "uber10K.bedrock.jsonl")
    assert len(written) == 120
    assert all("system" not in record for record in written)


def test_gzip_input_with_a_byte_order_mark_and_crlf_line_ends_converts_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the sample data saved by a Windows editor (BOM, CRLF) and gzipped
    records = [aws_sample_record(index) for index in range(100)]
    text = b"\xef\xbb\xbf" + b"".join(orjson.dumps(record) + b"\r\n" for record in records)
    source = tmp_path / "uber10K.jsonl.gz"
    source.write_bytes(gzip.compress(text))

    # When it is converted
    code = main(["convert", str(source), "--from", "prompt-completion"])

    # Then every record is written, its text unchanged
    assert code == 0, capsys.readouterr().out
    written = read_jsonl(tmp_path / "uber10K.bedrock.jsonl")
    assert [record["messages"][0]["content"][0]["text"] for record in written] == [r["prompt"] for r in records]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("data/train.jsonl", "data/train.bedrock.jsonl"),
        ("tickets.csv", "tickets.bedrock.jsonl"),
        ("logs.jsonl.gz", "logs.bedrock.jsonl"),
        ("s3://bucket/in/chat.jsonl", "s3://bucket/in/chat.bedrock.jsonl"),
    ],
)
def test_the_default_output_is_the_inputs_name_with_bedrock_jsonl(source: str, expected: str) -> None:
    assert default_output(source) == expected


# --- Refusals: nothing silently dropped ----------------------------------------------------------------------


def test_prompt_completion_records_that_cannot_be_converted_are_refused_with_file_line_field_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 100 good records, then one of each kind that cannot become a valid Bedrock record
    good = [aws_sample_record(index) for index in range(100)]
    source = tmp_path / "mixed.jsonl"
    bad_lines = [
        b'{"completion": "no prompt"}',
        b'{"prompt": "Question?", "completion": "   "}',
        b'{"prompt": 5, "completion": "five"}',
        b"not json",
        b"",
        b'{"prompt": "first", "prompt": "second", "completion": "c"}',
        b'{"prompt": "bell \\u0007 here", "completion": "c"}',
        b'["prompt", "completion"]',
        b'{"prompt": "Question with an id?", "completion": "Yes.", "id": 7}',
        b'{"prompt": "A prompt without a golden answer."}',
    ]
    source.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in good) + b"\n".join(bad_lines) + b"\n")
    output = tmp_path / "out.jsonl"

    # When it is converted
    code = main(["convert", str(source), "--from", "prompt-completion", "--output", str(output)])

    # Then each bad record is refused with its line, field and reason, and the count says so
    printed = capsys.readouterr().out.splitlines()
    assert [line for line in printed if line.startswith(f"{source}:")] == [
        f"{source}:101: prompt: missing",
        f"{source}:102: completion: empty or whitespace-only text",
        f"{source}:103: prompt: must be a string, got number",
        f"{source}:104: $: not valid JSON: invalid literal, expected 'null': line 1 column 1 (char 0)",
        f"{source}:106: prompt: duplicate key: JSON keeps only the last value, so the others would be lost",
        f"{source}:107: prompt: control character U+0007 at character 5 (only tab, LF and CR are allowed)",
        f"{source}:108: $: record must be a JSON object, got array",
        f"{source}:109: id: warning: field not carried over (bedrock-conversation-2024 has no place for it); "
        "first seen here",
        f"{source}: 109 prompt-completion records, 102 written, 7 refused (not written: see the lines above), "
        "1 blank lines skipped",
    ]
    assert printed[-1] == f"incomplete: 7 records refused; fix them in {source} and convert again"
    assert code == 1
    # ... and what was written is valid: the good records, the one with an id, the one without an answer
    written = read_jsonl(output)
    assert len(written) == 102
    assert written[-1]["messages"] == [turn("user", "A prompt without a golden answer.")]
    assert main(["validate", str(output)]) == 0


def test_openai_chat_records_keep_system_and_answers_and_refuse_what_bedrock_cannot_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given OpenAI chat-format records: 100 good ones with a system message, then the cases to refuse or keep
    good = [
        chat(("system", "Be brief."), ("user", f"Summarise ticket {index}."), ("assistant", f"Ticket {index}."))
        for index in range(100)
    ]
    cases = [
        chat(("user", "Hi"), ("user", "again")),
        chat(("system", "A"), ("system", "B"), ("user", "Hi")),
        chat(("user", "Hi"), ("system", "late")),
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": None, "tool_calls": []}]},
        chat(("User", "Hi")),
        chat(("system", "only")),
        chat(("assistant", "first")),
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        {"prompt": "not chat"},
        chat(("user", "   ")),
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "A part."}]}], "id": "a"},
        chat(("user", "Multi"), ("assistant", "turn"), ("user", "record"), ("assistant", "ok")),
        chat(("user", "No system of its own.")),
    ]
    source = write_jsonl(tmp_path / "chat.jsonl", good + cases)
    output = tmp_path / "out.jsonl"

    # When it is converted for a Nova student, with a --system for records that have none
    code = main(
        [
            *("convert", str(source), "--from", "openai-chat", "--output", str(output)),
            *("--system", "Default system.", "--student", NOVA_STUDENT),
        ]
    )

    # Then the records Bedrock cannot hold are refused, each naming the message that breaks it
    printed = capsys.readouterr().out.splitlines()
    assert [line for line in printed if line.startswith(f"{source}:")] == [
        f"{source}:101: messages[1].role: turns must alternate starting with user: expected 'assistant' after "
        "'user', got 'user'",
        f"{source}:102: messages[1].role: a second system message (the first is messages[0].content); Bedrock "
        "takes one system prompt",
        f"{source}:103: messages[1].role: the system message must come before the first user message",
        f"{source}:104: messages[1].tool_calls: tool use cannot be converted (bedrock-conversation-2024 holds text "
        "turns only)",
        f"{source}:105: messages[0].role: must be 'system', 'user' or 'assistant', got 'User' (roles are "
        "case-sensitive)",
        f"{source}:106: messages: no user message; a record needs at least one",
        f"{source}:107: messages[0].role: turns must alternate starting with user: expected 'user' first, got "
        "'assistant'",
        f'{source}:108: messages[0].content[0]: only {{"type": "text", "text": ...}} parts convert, got \'image_url\'',
        f"{source}:109: prompt: warning: field not carried over (bedrock-conversation-2024 has no place for it); "
        "first seen here",
        f"{source}:109: messages: missing; an OpenAI chat record holds a list of messages",
        f"{source}:110: messages[0].content: empty or whitespace-only text",
        f"{source}:111: id: warning: field not carried over (bedrock-conversation-2024 has no place for it); "
        "first seen here",
        f"{source}: 113 openai-chat records, 103 written, 10 refused (not written: see the lines above), "
        "0 blank lines skipped",
    ]
    assert code == 1
    # ... the system message became `system`, the assistant turns the golden answers, and --system filled in
    written = read_jsonl(output)
    assert written[0] == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Be brief."}],
        "messages": [turn("user", "Summarise ticket 0."), turn("assistant", "Ticket 0.")],
    }
    assert written[100] == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Default system."}],
        "messages": [turn("user", "A part.")],
    }
    assert [message["role"] for message in written[101]["messages"]] == ["user", "assistant", "user", "assistant"]
    assert written[102]["system"] == [{"text": "Default system."}]
    assert main(["validate", str(output), "--student", NOVA_STUDENT]) == 0


def test_a_multi_turn_record_is_refused_at_its_input_line_when_the_student_takes_single_turn_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a multi-turn OpenAI record among single-turn ones
    records = [chat(("user", f"Question {index}?"), ("assistant", f"Answer {index}.")) for index in range(100)]
    records.append(chat(("user", "a"), ("assistant", "b"), ("user", "c")))
    source = write_jsonl(tmp_path / "chat.jsonl", records)

    # When it is converted for a Llama student
    code = main(["convert", str(source), "--from", "openai-chat", "--student", LLAMA_STUDENT])

    # Then the validator's own single-turn rule refuses it, at the input's line, instead of writing it
    printed = capsys.readouterr().out
    assert (
        f"{source}:101: messages: 2 user turns, but student {LLAMA_STUDENT} accepts single-turn records only" in printed
    )
    assert code == 1
    assert len(read_jsonl(tmp_path / "chat.bedrock.jsonl")) == 100


def test_a_file_converted_with_the_wrong_format_gets_a_handful_of_lines_not_one_per_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 150 OpenAI chat records
    records = [chat(("user", f"Question {index}?"), ("assistant", f"Answer {index}.")) for index in range(150)]
    source = write_jsonl(tmp_path / "chat.jsonl", records)

    # When they are converted as prompt/completion data
    code = main(["convert", str(source), "--from", "prompt-completion"])

    # Then the refusal is shown three times and summarized, and every record is still counted as refused
    printed = capsys.readouterr().out.splitlines()
    assert [line for line in printed if line.startswith(f"{source}:")] == [
        f"{source}:1: messages: warning: field not carried over (bedrock-conversation-2024 has no place for it); "
        "first seen here",
        f"{source}:1: prompt: missing",
        f"{source}:2: prompt: missing",
        f"{source}:3: prompt: missing",
        f"{source}:4: prompt: ... and 147 more lines with this problem (lines 4-150)",
        f"{source}: 150 prompt-completion records, 0 written, 150 refused (not written: see the lines above), "
        "0 blank lines skipped",
    ]
    assert code == 1


# --- CSV ----------------------------------------------------------------------------------------------------


def test_csv_named_columns_convert_with_quoted_multiline_fields_and_lines_counted_from_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a spreadsheet export: a byte order mark, a header, 100 rows with quoted commas and newlines, and
    # an id column; then an empty answer, a short row, and a row whose question spans two lines
    rows = "".join(
        f'{index},"Question {index}, in full?","Line one\nline two of answer {index}."\n' for index in range(100)
    )
    text = "id,question,answer\n" + rows + '100,"Question 100?",\n101,only-two\n102,"Question\n102?","Answer 102."\n'
    source = tmp_path / "tickets.csv"
    source.write_bytes(b"\xef\xbb\xbf" + text.encode())
    output = tmp_path / "out.jsonl"

    # When it is converted naming the columns
    code = main(
        [
            *("convert", str(source), "--from", "csv", "--output", str(output), "--system", SYSTEM),
            *("--prompt-column", "question", "--completion-column", "answer"),
        ]
    )

    # Then the rows become records, problems name the line the record starts on, and the unused column is said
    printed = capsys.readouterr().out.splitlines()
    assert [line for line in printed if line.startswith(f"{source}:")] == [
        f"{source}:1: (header): warning: columns not carried over: 'id' (only the prompt and completion columns "
        "are converted)",
        f"{source}:202: answer: empty or whitespace-only text",
        f"{source}:203: $: 2 fields, but the header has 3 columns (a stray comma or quote?)",
        f"{source}: 103 csv records, 101 written, 2 refused (not written: see the lines above), 0 blank lines skipped",
    ]
    assert code == 1
    written = read_jsonl(output)
    assert written[0] == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": SYSTEM}],
        "messages": [turn("user", "Question 0, in full?"), turn("assistant", "Line one\nline two of answer 0.")],
    }
    assert written[-1]["messages"][0] == turn("user", "Question\n102?")
    assert main(["validate", str(output)]) == 0


def test_a_csv_without_a_completion_column_gives_prompts_without_golden_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "prompts.csv"
    source.write_text("prompt\n" + "".join(f"Question {index}?\n" for index in range(100)))

    assert main(["convert", str(source), "--from", "csv"]) == 0, capsys.readouterr().out

    written = read_jsonl(tmp_path / "prompts.bedrock.jsonl")
    assert [record["messages"] for record in written[:2]] == [
        [turn("user", "Question 0?")],
        [turn("user", "Question 1?")],
    ]


# --- Usage and I/O errors: exit 2, one line, nothing left behind ---------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--from", "csv", "--prompt-column", "q"],
            "data.csv:1: (header): no column 'q' (columns: 'prompt', 'completion'); pass --prompt-column NAME",
        ),
        (["--from", "csv", "--completion-column", "answer"], "no column 'answer'"),
        (
            ["--from", "prompt-completion", "--prompt-column", "q"],
            "--prompt-column and --completion-column apply to --from csv only",
        ),
        (["--from", "csv", "--system", " "], "--system: empty or whitespace-only text"),
        (["--from", "csv", "--system", "bell \x07"], "--system: control character U+0007 at character 5"),
        (["--from", "csv", "--student", "bogus-model"], "--student: "),
        (["--from", "csv", "--output", "{source}"], "is the input; write the converted records elsewhere"),
        (["--from", "csv", "--output", "{tmp}/missing/out.jsonl"], "missing/out.jsonl: No such file or directory"),
    ],
)
def test_options_that_cannot_work_exit_2_with_one_line_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    source = tmp_path / "data.csv"
    source.write_text("prompt,completion\nQ?,A.\n")
    arguments = [argument.format(source=source, tmp=tmp_path) for argument in arguments]

    code = main(["convert", str(source), *arguments])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("distill: ")
    assert message.replace("data.csv", str(source)) in captured.err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.csv"]


def test_a_csv_syntax_error_stops_with_its_line_and_leaves_no_partial_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "broken.csv"
    source.write_text("prompt,completion\n" + "Q?,A.\n" * 50 + 'Q?,"unterminated\n')

    code = main(["convert", str(source), "--from", "csv"])

    assert code == 2
    assert capsys.readouterr().err.startswith(f"distill: {source}:52: not valid CSV: ")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.csv"]


def test_a_missing_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(tmp_path / "absent.jsonl"), "--from", "prompt-completion"]) == 2
    assert capsys.readouterr().err == f"distill: {tmp_path / 'absent.jsonl'}: no such file\n"
    assert list(tmp_path.iterdir()) == []


# --- S3, JSON output and streaming ----------------------------------------------------------------------------


def test_s3_input_and_output_and_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        # Given the sample data in S3
        s3 = aws_client("s3")
        s3.create_bucket(Bucket="datasets", CreateBucketConfiguration={"LocationConstraint": REGION})
        body = b"".join(orjson.dumps(aws_sample_record(index)) + b"\n" for index in range(150))
        s3.put_object(Bucket="datasets", Key="raw/uber10K.jsonl", Body=body)

        # When it is converted from S3 to S3 with --json
        code = main(["convert", "s3://datasets/raw/uber10K.jsonl", "--from", "prompt-completion", "--json"])

        # Then the object beside it holds every record, and one JSON object reports the conversion and validation
        report = json.loads(capsys.readouterr().out)
        assert code == 0
        assert (report["output"], report["written"], report["refused"]) == (
            "s3://datasets/raw/uber10K.bedrock.jsonl",
            150,
            0,
        )
        assert (report["validation"]["valid"], report["verdict"]) == (150, "valid")
        lines = s3.get_object(Bucket="datasets", Key="raw/uber10K.bedrock.jsonl")["Body"].read().splitlines()
        assert len(lines) == 150


def test_conversion_streams_a_large_file_in_constant_memory(tmp_path: Path) -> None:
    # Given a ~50 MB prompt/completion file (about 10,000 records of 5 KB, the sample data's size)
    source = tmp_path / "big.jsonl"
    context = "Revenue grew 12% to $31.9 billion across ☒ mobility and delivery segments. " * 65
    with source.open("wb") as handle:
        index = 0
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(orjson.dumps({"prompt": f"Q{index}: {context}", "completion": f"A{index}."}) + b"\n")
            index += 1
    size = source.stat().st_size

    # When it is converted and the output validated, with allocations traced
    tracemalloc.start()
    try:
        report = convert_dataset(
            str(source), str(tmp_path / "out.jsonl"), ConvertOptions(InputFormat.PROMPT_COMPLETION, system=SYSTEM)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Then every record was written, and memory stayed a small constant: the read and write buffers, not the file
    assert (report.written, report.refused, report.validation.valid) == (index, 0, index)
    assert peak < 12 * 1024 * 1024 < size / 4, f"peak {peak:,} bytes for a {size:,}-byte file"
