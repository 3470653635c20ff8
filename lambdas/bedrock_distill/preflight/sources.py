"""Streaming reads of local files and S3 objects, with every I/O failure turned into one SourceError.

Everything here yields bounded chunks so that callers never hold a whole file: the validator and the
log scanner must run in constant memory whatever the input size.
"""

from __future__ import annotations

import gc
import io
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bedrock_distill.gateways.s3 import CHUNK_BYTES, ChunkStream, S3Gateway, S3Location, is_s3_uri
from bedrock_distill.workflow.errors import WorkflowError

# Bounds what one zlib call may inflate, so a gzip bomb cannot allocate more than this per step.
_MAX_INFLATE_STEP = 4 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS


@contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """Parsing allocates millions of short-lived, acyclic containers that reference counting frees;
    the cyclic collector would keep scanning them for nothing (~15% of validation time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class SourceError(Exception):
    """An input could not be read: missing file or object, no credentials, corrupt gzip, ..."""


@dataclass(frozen=True, slots=True)
class OversizeLine:
    """Stands in for a line longer than the reader's limit; its bytes were discarded, not buffered."""

    length: int


def _s3_location(uri: str) -> S3Location:
    try:
        return S3Location.parse(uri)
    except ValueError as exc:
        raise SourceError(f"{uri}: not an s3://bucket/key URI") from exc


def read_s3_chunks(uri: str, s3: S3Gateway, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    location = _s3_location(uri)
    with _s3_errors(uri):
        yield from s3.read_chunks(location, chunk_bytes)


def list_s3_uris(uri: str, s3: S3Gateway) -> Iterator[str]:
    location = _s3_location(uri)
    prefix = location.key if not location.key or location.key.endswith("/") else f"{location.key}/"
    found = False
    with _s3_errors(uri):
        for key in s3.list_keys(S3Location(location.bucket, prefix)):
            found = True
            yield f"s3://{location.bucket}/{key}"
    if not found:
        raise SourceError(f"{uri}: no objects under this prefix")


@contextmanager
def _s3_errors(uri: str) -> Iterator[None]:
    """An S3 error (named by the S3 gateway) as a SourceError naming the URI; the named error stays its cause,
    so Preflight can tell S3's transient failures from bad input."""
    try:
        yield
    except WorkflowError as exc:
        if exc.code == "NoCredentialsError":
            raise SourceError(f"{uri}: no AWS credentials found") from exc
        message = exc.reason or _S3_ERROR_MESSAGES.get(exc.code, "request failed")
        raise SourceError(f"{uri}: {exc.code}: {message}") from exc


_S3_ERROR_MESSAGES = {
    "NoSuchKey": "no such object",
    "NoSuchBucket": "no such bucket",
    "404": "not found",
    "403": "access denied",
}


@contextmanager
def _local_file_errors(path: str) -> Iterator[None]:
    """Turns an OSError opening or reading a local file into one SourceError naming the path."""
    try:
        yield
    except FileNotFoundError as exc:
        raise SourceError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise SourceError(f"{path}: is a directory, expected a file") from exc
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror or exc}") from exc


def read_local_chunks(path: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    with _local_file_errors(path), open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            yield chunk


def read_chunks(location: str, s3: S3Gateway | None = None) -> Iterator[bytes]:
    """The bytes of a local file or an s3:// object, in chunks of about a mebibyte."""
    if is_s3_uri(location):
        return read_s3_chunks(location, s3 or S3Gateway())
    return read_local_chunks(location)


def list_locations(location: str, s3: S3Gateway | None = None) -> Iterator[str]:
    """Every file under a local directory or every object under an S3 prefix, in a stable order."""
    if is_s3_uri(location):
        yield from list_s3_uris(location, s3 or S3Gateway())
        return
    root = Path(location)
    if root.is_file():
        yield str(root)
        return
    if not root.is_dir():
        raise SourceError(f"{location}: no such directory")
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(files):
            yield os.path.join(directory, name)


def capped(chunks: Iterable[bytes], max_bytes: int, too_large: str) -> Iterator[bytes]:
    """Passes the chunks on until more than ``max_bytes`` have come, then raises SourceError(too_large)
    instead of passing on the chunk that crossed the cap: whoever keeps the chunks holds at most max_bytes."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise SourceError(too_large)
        yield chunk


def read_capped_chunks(
    location: str, max_bytes: int, s3: S3Gateway | None = None, *, gunzip: bool = False
) -> Iterator[bytes]:
    """The object's chunks, decompressed when ``gunzip`` is set and it is gzip, with both the stored and the
    decompressed size capped at ``max_bytes``: ``/dev/zero``, a huge object or a gzip bomb ends in a
    SourceError after at most max_bytes, never in MemoryError. (The stored size is capped too because a
    stream of empty gzip members inflates to nothing and would never reach the decompressed cap.)"""
    chunks = capped(read_chunks(location, s3), max_bytes, f"{location}: object is over the {max_bytes:,}-byte cap")
    if not gunzip:
        return chunks
    return capped(
        maybe_gunzip(chunks, location),
        max_bytes,
        f"{location}: decompresses to over the {max_bytes:,}-byte cap (a gzip bomb?)",
    )


def maybe_gunzip(chunks: Iterable[bytes], location: str) -> Iterator[bytes]:
    """Decompresses the stream when it starts with the gzip magic number, else passes it through."""
    iterator = iter(chunks)
    first = next(iterator, b"")
    if not first.startswith(_GZIP_MAGIC):
        if first:
            yield first
        yield from iterator
        return
    yield from _gunzip(_prepend(first, iterator), location)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _gunzip(chunks: Iterable[bytes], location: str) -> Iterator[bytes]:
    inflater = zlib.decompressobj(_GZIP_WBITS)
    inside_member = False
    try:
        for chunk in chunks:
            pending = chunk
            while pending:
                inside_member = True
                output = inflater.decompress(pending, _MAX_INFLATE_STEP)
                if output:
                    yield output
                if inflater.eof:
                    # gzip allows several concatenated members; each needs a fresh inflater.
                    pending = inflater.unused_data
                    inflater = zlib.decompressobj(_GZIP_WBITS)
                    inside_member = False
                else:
                    pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise SourceError(f"{location}: corrupt gzip data ({exc})") from exc
    if inside_member:
        raise SourceError(f"{location}: truncated gzip data (the stream ends inside a member)")


def open_stream(
    location: str, s3: S3Gateway | None = None, *, gunzip: bool = False, max_bytes: int | None = None
) -> io.BufferedReader:
    """A buffered binary stream over a local file or an S3 object, decompressed when ``gunzip`` is set
    and the data starts with the gzip magic number; with ``max_bytes``, capped as read_capped_chunks caps."""
    if max_bytes is not None:
        chunks = read_capped_chunks(location, max_bytes, s3, gunzip=gunzip)
    elif gunzip:
        chunks = maybe_gunzip(read_chunks(location, s3), location)
    elif is_s3_uri(location):
        chunks = read_chunks(location, s3)
    else:
        with _local_file_errors(location):
            return io.BufferedReader(io.FileIO(location, "rb"), CHUNK_BYTES)  # what open() builds, typed as such
    return io.BufferedReader(ChunkStream(chunks), CHUNK_BYTES)


def iter_lines(stream: BinaryIO, max_line_bytes: int) -> Iterator[bytes | OversizeLine]:
    """The stream's lines, each with its trailing LF. A line longer than max_line_bytes is skipped as
    it streams past and reported as an OversizeLine, so one huge line cannot exhaust memory."""
    readline = stream.readline
    limit = max_line_bytes + 1  # room for the LF
    try:
        while line := readline(limit):
            if len(line) <= max_line_bytes:
                yield line
                continue
            length = len(line) - line.endswith(b"\n")
            if length <= max_line_bytes:
                yield line
                continue
            while not line.endswith(b"\n"):
                line = readline(CHUNK_BYTES)
                if not line:
                    break
                length += len(line) - line.endswith(b"\n")
            yield OversizeLine(length)
    except OSError as exc:
        raise SourceError(f"{getattr(stream, 'name', 'input')}: {exc.strerror or exc}") from exc
