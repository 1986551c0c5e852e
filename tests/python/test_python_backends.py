"""Python-defined backends judged and selected through attnreg (examples/python/acme_py_plugin.py)."""

from __future__ import annotations

import pathlib
import sys

import pytest

import attnreg
from attnreg import AttentionConfig

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"))
import acme_py_plugin  # noqa: E402

CONFIG = dict(head_size=128, dtype="float32", num_heads=8)


@pytest.fixture(autouse=True)
def no_env_request(monkeypatch):
    monkeypatch.delenv("ATTNREG_ATTENTION_BACKEND", raising=False)


def test_python_plugin_is_registered_and_selected_on_request(reg):
    acme_py_plugin.register()
    assert reg.AttentionBackendEnum.CUSTOM.get_path() == "acme_py_plugin.AcmePyBackend"
    s = attnreg.select_backend(AttentionConfig(**CONFIG), requested="CUSTOM")
    assert s.chosen is reg.AttentionBackendEnum.CUSTOM
    assert s.backend is acme_py_plugin.AcmePyBackend
    assert s.origin == "requested"
    assert [(c.member.name, c.valid, c.selected, c.verdict) for c in s.candidates] == [
        ("CUSTOM", True, True, "selected"),
        ("CPU_ATTN", True, False, "valid"),
    ]
    assert "chosen: CUSTOM (requested), a Python class" in s.explanation


def test_python_plugin_reasons_when_invalid(reg):
    acme_py_plugin.register()
    with pytest.raises(ValueError) as e:
        attnreg.select_backend(AttentionConfig(head_size=96, dtype="float32", num_heads=8), requested="CUSTOM")
    assert str(e.value) == (
        "Selected backend AttentionBackendEnum.CUSTOM is not valid for this configuration. "
        "Reason: ['head_size not supported: 96 (supported: 64, 128)']"
    )


def test_python_class_overriding_a_priority_member_is_chosen_by_priority(reg):
    reg.register_backend(reg.AttentionBackendEnum.CPU_ATTN)(acme_py_plugin.AcmePyBackend)
    s = attnreg.select_backend(AttentionConfig(**CONFIG))
    assert s.chosen is reg.AttentionBackendEnum.CPU_ATTN and s.origin == "priority"
    assert s.backend is acme_py_plugin.AcmePyBackend
    # The Python class judges with the platform's device, as the C++ selector does.
    [judged] = attnreg.judge_candidates(AttentionConfig(**CONFIG, device="cuda"))
    assert judged.valid


def test_python_class_without_validate_configuration_is_not_valid(reg):
    class Bare:
        pass

    reg.register_backend(reg.AttentionBackendEnum.CUSTOM)(Bare)
    [judged, _] = attnreg.judge_candidates(AttentionConfig(**CONFIG), requested="CUSTOM")
    assert judged.reasons == [
        f"{__name__}.test_python_class_without_validate_configuration_is_not_valid.<locals>.Bare "
        "has no validate_configuration(config)"
    ]
    assert not judged.valid and judged.verdict == "not valid"


def test_unimportable_python_path_keeps_the_cpp_verdict(reg):
    reg.register_backend(reg.AttentionBackendEnum.CUSTOM, "attnreg_no_such_pkg.Backend")
    with pytest.raises(ValueError) as e:
        attnreg.select_backend(AttentionConfig(**CONFIG), requested="CUSTOM")
    assert str(e.value).startswith(
        "Selected backend AttentionBackendEnum.CUSTOM is not valid for this configuration. "
        "Reason: [\"not available: No module named 'attnreg_no_such_pkg'"
    )
