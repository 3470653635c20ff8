"""The two ways an emulated call can fail: as the service would, or because the emulator cannot answer."""

from __future__ import annotations


class BedrockError(Exception):
    """A service-side error, answered to the caller as the client's modeled exception for `code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class UnsupportedOperationError(NotImplementedError):
    """The emulator does not implement what was asked; a made-up answer would hide the gap."""
