"""Tags on jobs, custom models and Provisioned Throughputs: TagResource, UntagResource, ListTagsForResource."""

from __future__ import annotations

from offline.bedrock_emulator.core import Handler, Params, Response
from offline.bedrock_emulator.errors import BedrockError


def tag_map(tags: list[dict[str, str]]) -> dict[str, str]:
    """A request's `[{"key": ..., "value": ...}]` as a dict."""
    return {tag["key"]: tag["value"] for tag in tags}


class Tags:
    """Every taggable resource's tags by ARN; a resource is taggable from its creation to its deletion."""

    def __init__(self) -> None:
        self._by_arn: dict[str, dict[str, str]] = {}

    def operations(self) -> dict[str, Handler]:
        return {
            "TagResource": self._tag_resource,
            "UntagResource": self._untag_resource,
            "ListTagsForResource": self._list_tags,
        }

    def created(self, arn: str, tags: list[dict[str, str]]) -> None:
        self._by_arn[arn] = tag_map(tags)

    def deleted(self, arn: str) -> None:
        self._by_arn.pop(arn, None)

    def of(self, arn: str) -> dict[str, str]:
        return dict(self._by_arn.get(arn, {}))

    def _taggable(self, arn: str) -> dict[str, str]:
        if arn not in self._by_arn:
            raise BedrockError("ResourceNotFoundException", f"Resource {arn} not found")
        return self._by_arn[arn]

    def _tag_resource(self, params: Params, region: str) -> Response:
        self._taggable(params["resourceARN"]).update(tag_map(params["tags"]))
        return {}

    def _untag_resource(self, params: Params, region: str) -> Response:
        tags = self._taggable(params["resourceARN"])
        for key in params["tagKeys"]:
            tags.pop(key, None)
        return {}

    def _list_tags(self, params: Params, region: str) -> Response:
        tags = self._taggable(params["resourceARN"])
        return {"tags": [{"key": key, "value": value} for key, value in tags.items()]}
