"""S3 locations and the few object operations the workflow needs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bedrock_distill.aws import LazyClient


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
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


class S3Gateway:
    def __init__(self, s3: LazyClient | None = None) -> None:
        self._s3 = s3 or LazyClient("s3")

    def read_text(self, location: S3Location) -> str:
        body = self._s3.client.get_object(Bucket=location.bucket, Key=location.key)["Body"]
        return str(body.read().decode("utf-8"))

    def iter_lines(self, location: S3Location) -> Iterator[bytes]:
        body = self._s3.client.get_object(Bucket=location.bucket, Key=location.key)["Body"]
        yield from body.iter_lines(keepends=False)

    def put_json(self, location: S3Location, document: Any) -> None:
        self._s3.client.put_object(
            Bucket=location.bucket,
            Key=location.key,
            Body=json.dumps(document, indent=2, sort_keys=True).encode(),
            ContentType="application/json",
        )

    def list_keys(self, prefix: S3Location) -> list[str]:
        paginator = self._s3.client.get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=prefix.bucket, Prefix=prefix.key)
            for item in page.get("Contents", [])
        ]

    def exists(self, location: S3Location) -> bool:
        client = self._s3.client
        try:
            client.head_object(Bucket=location.bucket, Key=location.key)
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True
