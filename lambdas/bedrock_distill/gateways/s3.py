"""S3 locations, and the one gateway every part of the project reads and writes S3 through."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from bedrock_distill.gateways.calls import aws_call, aws_call_unless, named_errors
from bedrock_distill.gateways.clients import LazyClient

SERVICE: Final = "s3"
CHUNK_BYTES: Final = 1 << 20
# HeadObject answers a missing key with a bare 404; GetObject with NoSuchKey (S3 API reference, Error responses).
NOT_FOUND: Final = frozenset({"404", "NoSuchKey", "NotFound"})


def is_s3_uri(location: str) -> bool:
    return location.startswith("s3://")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not is_s3_uri(uri):
            raise ValueError(f"not an s3:// URI: {uri!r}")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {uri!r}")
        return cls(bucket=bucket, key=key)

    def child(self, name: str) -> S3Location:
        prefix = self.key if not self.key or self.key.endswith("/") else f"{self.key}/"
        return S3Location(self.bucket, f"{prefix}{name}")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class ChunkStream(io.RawIOBase):
    """A readable raw stream over an iterator of byte chunks, so C-level readline can split it and
    s3transfer can upload it part by part."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class S3Gateway:
    """Amazon S3: objects read as streams and written as JSON or from streams; errors leave as named errors
    (`gateways.calls`), with S3's own code on them."""

    def __init__(self, client: Any | None = None) -> None:
        self._s3 = LazyClient(SERVICE, client)

    def read_chunks(self, location: S3Location, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        with named_errors(SERVICE, f"GetObject {location.uri}"):
            body = self._s3.client.get_object(Bucket=location.bucket, Key=location.key)["Body"]
            try:
                yield from body.iter_chunks(chunk_bytes)
            finally:
                body.close()

    def iter_lines(self, location: S3Location) -> Iterator[bytes]:
        with named_errors(SERVICE, f"GetObject {location.uri}"):
            body = self._s3.client.get_object(Bucket=location.bucket, Key=location.key)["Body"]
            try:
                yield from body.iter_lines(keepends=False)
            finally:
                body.close()

    def exists(self, location: S3Location) -> bool:
        head = aws_call_unless(
            NOT_FOUND,
            SERVICE,
            f"HeadObject {location.uri}",
            lambda: self._s3.client.head_object(Bucket=location.bucket, Key=location.key),
        )
        return head is not None

    def read_text(self, location: S3Location) -> str:
        return b"".join(self.read_chunks(location)).decode("utf-8")

    def list_keys(self, prefix: S3Location) -> Iterator[str]:
        with named_errors(SERVICE, f"ListObjectsV2 {prefix.uri}"):
            pages = self._s3.client.get_paginator("list_objects_v2").paginate(Bucket=prefix.bucket, Prefix=prefix.key)
            for page in pages:
                for item in page.get("Contents", ()):
                    yield item["Key"]

    def upload_chunks(self, location: S3Location, chunks: Iterable[bytes]) -> None:
        """One object from a stream of any length: s3transfer uploads it in parts (multipart above
        8 MiB), so only a part at a time is held in memory."""
        stream = io.BufferedReader(ChunkStream(chunks), CHUNK_BYTES)
        aws_call(
            SERVICE,
            f"upload to {location.uri}",
            lambda: self._s3.client.upload_fileobj(stream, location.bucket, location.key),
        )

    def upload_file(self, path: str, location: S3Location) -> None:
        aws_call(
            SERVICE,
            f"upload {path} to {location.uri}",
            lambda: self._s3.client.upload_file(path, location.bucket, location.key),
        )

    def put_json(self, location: S3Location, document: Any) -> None:
        aws_call(
            SERVICE,
            f"PutObject {location.uri}",
            lambda: self._s3.client.put_object(
                Bucket=location.bucket,
                Key=location.key,
                Body=json.dumps(document, indent=2, sort_keys=True).encode(),
                ContentType="application/json",
            ),
        )
