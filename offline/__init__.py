"""The offline pipeline: the real state machine definition and the real handlers, on moto and the
Bedrock emulator. Used by the workflow tests and `make demo`."""
