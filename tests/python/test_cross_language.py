"""Overrides are one state shared by Python and C++ (the core holds it).

Writes through attnreg.registry are read by C++ code paths that never go
through the Python layer (the selector, the core's own get_path), and writes
made by C++ (the core's register_backend) are read by the Python enums.
"""

from __future__ import annotations

import attnreg
from attnreg import AttentionConfig, _core


def test_python_override_is_seen_by_cpp(reg):
    reg.register_backend(reg.AttentionBackendEnum.FLASH_ATTN, "py.side.Backend")
    assert _core.attention_get_path("FLASH_ATTN") == "py.side.Backend"
    assert _core.attention_is_overridden("FLASH_ATTN")
    reg.AttentionBackendEnum.FLASH_ATTN.clear_override()
    assert not _core.attention_is_overridden("FLASH_ATTN")


def test_cpp_override_is_seen_by_python(reg):
    _core.mamba_register_backend("MAMBA2", "cpp.side.Mamba")
    assert reg.MambaAttentionBackendEnum.MAMBA2.is_overridden()
    assert reg.MambaAttentionBackendEnum.MAMBA2.get_path() == "cpp.side.Mamba"
    _core.mamba_clear_override("MAMBA2")
    assert reg.MambaAttentionBackendEnum.MAMBA2.get_path() == reg.MambaAttentionBackendEnum.MAMBA2.value


def test_cpp_selector_judges_a_python_override(reg, monkeypatch):
    # The C++ selector resolves CPU_ATTN through its override: pointing it at
    # the NO_ATTENTION class makes the CPU's only candidate refuse attention.
    monkeypatch.delenv("ATTNREG_ATTENTION_BACKEND", raising=False)
    reg.register_backend(reg.AttentionBackendEnum.CPU_ATTN, "attnreg.backends.no_attention.NoAttentionBackend")
    [judged] = attnreg.judge_candidates(AttentionConfig(head_size=64, dtype="float32", num_heads=4))
    assert judged.path == "attnreg.backends.no_attention.NoAttentionBackend"
    assert judged.reasons == ["attention layers not supported: this backend serves attention-free models only"]
    reg.AttentionBackendEnum.CPU_ATTN.clear_override()
    [judged] = attnreg.judge_candidates(AttentionConfig(head_size=64, dtype="float32", num_heads=4))
    assert judged.valid
