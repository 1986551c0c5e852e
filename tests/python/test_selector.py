"""attnreg.select_backend from Python: choice and per-candidate reasons as Python objects."""

from __future__ import annotations

import pytest

import attnreg
from attnreg import AttentionConfig, Platform
from attnreg.registry import AttentionBackendEnum


@pytest.fixture(autouse=True)
def no_env_request(monkeypatch):
    monkeypatch.delenv("ATTNREG_ATTENTION_BACKEND", raising=False)


def test_cpu_selection_reports_its_candidates():
    s = attnreg.select_backend(AttentionConfig(head_size=64, dtype="float32", num_heads=4))
    assert s.chosen is AttentionBackendEnum.CPU_ATTN
    assert s.origin == "priority"
    assert s.platform.device == "cpu"
    assert s.backend.get_name() == "CPU_ATTN"
    [candidate] = s.candidates
    assert candidate == attnreg.Candidate(
        member=AttentionBackendEnum.CPU_ATTN,
        path="attnreg.backends.cpu_attn.CPUAttentionBackend",
        origin="priority",
        valid=True,
        selected=True,
        reasons=[],
        verdict="selected",
    )
    assert "CPU_ATTN" in s.explanation


def test_attention_free_model_gets_no_attention():
    s = attnreg.select_backend(AttentionConfig(head_size=64, has_attention=False))
    assert s.chosen is AttentionBackendEnum.NO_ATTENTION
    assert [(c.member, c.verdict) for c in s.candidates] == [
        (AttentionBackendEnum.NO_ATTENTION, "selected"),
        (AttentionBackendEnum.CPU_ATTN, "not valid"),
    ]
    assert s.candidates[1].reasons == ["attention-free model: needs a backend without attention (NO_ATTENTION)"]


def test_requested_backend_by_member_or_name():
    config = AttentionConfig(head_size=64, dtype="float32", num_heads=4)
    for requested in (AttentionBackendEnum.CPU_ATTN, "CPU_ATTN"):
        s = attnreg.select_backend(config, requested=requested)
        assert s.chosen is AttentionBackendEnum.CPU_ATTN and s.origin == "requested"


def test_invalid_request_raises_vllm_text():
    with pytest.raises(ValueError) as e:
        attnreg.select_backend(AttentionConfig(head_size=64, dtype="float32"), requested="NO_ATTENTION")
    assert str(e.value) == (
        "Selected backend AttentionBackendEnum.NO_ATTENTION is not valid for this configuration. "
        "Reason: ['attention layers not supported: this backend serves attention-free models only']"
    )


def test_unknown_request_name():
    with pytest.raises(ValueError, match=r"^Unknown attention backend: 'CPU'\. Valid options are: FLASH_ATTN, "):
        attnreg.select_backend(AttentionConfig(head_size=64), requested="CPU")


def test_no_valid_backend_lists_reasons_and_judge_does_not_raise():
    config = AttentionConfig(head_size=72, dtype="float32", num_heads=4)
    with pytest.raises(ValueError) as e:
        attnreg.select_backend(config)
    assert str(e.value).startswith("No valid attention backend found for cpu with AttentionConfig(head_size=72,")
    assert str(e.value).endswith("Reasons: {CPU_ATTN: [head_size not supported: 72 (supported: "
                                 + ", ".join(map(str, range(32, 257, 16))) + ")]}.")
    [judged] = attnreg.judge_candidates(config)
    assert judged.member is AttentionBackendEnum.CPU_ATTN and not judged.valid and not judged.selected


def test_simulated_cuda_platform_candidates_say_why():
    judged = attnreg.judge_candidates(AttentionConfig(head_size=128, num_heads=8), Platform.cuda(9, 0))
    assert judged[0].member is AttentionBackendEnum.FLASH_ATTN
    for c in judged:
        assert not c.valid
        assert len(c.reasons) == 1 and c.reasons[0].startswith("not available: No module named 'attnreg.backends.")
