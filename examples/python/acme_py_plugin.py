"""acme_py_plugin: a vLLM-style attention plugin written in Python.

As a vLLM general plugin does, it exposes register(), which the host calls
once; register() binds the plugin's backend class to AttentionBackendEnum.CUSTOM
with the decorator. The class follows the shape the selector asks of a Python
backend: get_name() and validate_configuration(config) -> list of reasons.
"""

from __future__ import annotations

from attnreg.registry import AttentionBackendEnum, register_backend


class AcmePyBackend:
    """A CPU backend for bfloat16/float32 models with head size 64 or 128."""

    @staticmethod
    def get_name() -> str:
        return "ACME_PY"

    @classmethod
    def validate_configuration(cls, config) -> list[str]:
        """Every unmet constraint, one reason each (vLLM's contract)."""
        reasons = []
        if config.device != "cpu":
            reasons.append(f"device not supported: {config.device} (supported: cpu)")
        if config.head_size not in (64, 128):
            reasons.append(f"head_size not supported: {config.head_size} (supported: 64, 128)")
        if config.dtype not in ("bfloat16", "float32"):
            reasons.append(f"dtype not supported: {config.dtype} (supported: bfloat16, float32)")
        return reasons


def register() -> None:
    """The plugin's entry point: make AcmePyBackend the CUSTOM backend."""
    register_backend(AttentionBackendEnum.CUSTOM)(AcmePyBackend)
