"""Registers a Python plugin and a C++ plugin with attnreg and selects each.

Run from this directory after `pip install .` at the repository root and
building acme_cpp (see CMakeLists.txt):
    ATTNREG_PLUGIN_PATH=<build>/plugins python select_both.py
"""

from __future__ import annotations

import attnreg
import acme_py_plugin
from attnreg.registry import AttentionBackendEnum, register_backend


def main() -> None:
    # The Python plugin: CUSTOM -> acme_py_plugin.AcmePyBackend (decorator form).
    acme_py_plugin.register()
    # The C++ plugin: override CPU_ATTN with its class (direct form); the core
    # loads acme_cpp/attention.so from ATTNREG_PLUGIN_PATH on first use.
    register_backend(AttentionBackendEnum.CPU_ATTN, "acme_cpp.attention.TinyCpuBackend")

    config = attnreg.AttentionConfig(head_size=128, dtype="float32", num_heads=8)

    by_priority = attnreg.select_backend(config)  # CPU_ATTN heads the CPU list
    print(by_priority.chosen, "->", by_priority.backend.get_name())
    print(by_priority.explanation)

    requested = attnreg.select_backend(config, requested=AttentionBackendEnum.CUSTOM)
    print(requested.chosen, "->", requested.backend.get_name())
    print(requested.explanation)


if __name__ == "__main__":
    main()
