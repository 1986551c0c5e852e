"""C++ backend classes seen from Python: capabilities, validation, KV-cache layout, config errors."""

from __future__ import annotations

import pytest

from attnreg import AttentionBackend, AttentionConfig
from attnreg.registry import AttentionBackendEnum

CPU_HEAD_SIZES = list(range(32, 257, 16))


@pytest.fixture(scope="module")
def cpu():
    return AttentionBackendEnum.CPU_ATTN.get_class()


def test_cpu_backend_capabilities(cpu):
    assert isinstance(cpu, AttentionBackend)
    assert cpu.get_name() == "CPU_ATTN"
    assert sorted(cpu.supported_dtypes()) == ["bfloat16", "float16", "float32"]
    assert cpu.supported_kv_cache_dtypes() == ["auto", "fp8_e4m3"]
    assert cpu.supported_head_sizes() == CPU_HEAD_SIZES
    assert cpu.supported_devices() == ["cpu"]
    assert cpu.supported_attn_types() == ["decoder", "encoder", "encoder_only", "encoder_decoder"]
    assert cpu.supports_sink() and cpu.supports_alibi() and cpu.supports_non_causal()
    assert not cpu.is_mla() and cpu.supports_attention()


def test_validate_configuration_lists_every_reason(cpu):
    assert cpu.validate_configuration(AttentionConfig(head_size=64, dtype="float32", num_heads=4)) == []
    reasons = cpu.validate_configuration(AttentionConfig(head_size=72, device="cuda", device_capability=(9, 0)))
    assert reasons == [
        "device not supported: cuda (supported: cpu)",
        "head_size not supported: 72 (supported: " + ", ".join(map(str, CPU_HEAD_SIZES)) + ")",
    ]


def test_kv_cache_layout(cpu):
    assert cpu.get_kv_cache_shape(10, 16, 2, 64) == [2, 10, 16, 2, 64]
    assert cpu.get_kv_cache_stride_order() == [0, 1, 2, 3, 4]
    no_attention = AttentionBackendEnum.NO_ATTENTION.get_class()
    assert no_attention.supports_attention() is False
    assert no_attention.supported_kernel_block_sizes() == [(1, True)]


def test_make_impl_refuses_an_unservable_layer(cpu):
    with pytest.raises(ValueError) as e:
        cpu.make_impl(num_heads=4, head_size=72, num_kv_heads=2)
    assert str(e.value) == (
        "CPU_ATTN: cannot run this layer: head_size not supported: 72 (supported: "
        + ", ".join(map(str, CPU_HEAD_SIZES))
        + ")"
    )


def test_config_fields_round_trip():
    c = AttentionConfig(head_size=128, dtype="fp16", device="cuda", device_capability=(8, 0), sliding_window=64)
    assert (c.head_size, c.dtype, c.device, c.device_capability, c.sliding_window) == (
        128,
        "float16",
        "cuda",
        (8, 0),
        64,
    )
    c.dtype = "torch.bfloat16"
    c.attn_type = "encoder_only"
    c.device_capability = None
    assert (c.dtype, c.attn_type, c.device_capability) == ("bfloat16", "encoder_only", None)


@pytest.mark.parametrize(
    "field, value, message",
    [
        (
            "dtype",
            "float8",
            "unknown dtype 'float8': expected float32, float16, bfloat16, fp8_e4m3, float64, uint8, int32 or int64",
        ),
        ("device", "tpu", "unknown device 'tpu': expected 'cpu' or 'cuda'"),
        (
            "attn_type",
            "cross",
            "unknown attention type 'cross': expected 'decoder', 'encoder', 'encoder_only' or 'encoder_decoder'",
        ),
    ],
)
def test_bad_config_strings_raise_value_error(field, value, message):
    with pytest.raises(ValueError) as e:
        AttentionConfig(**{field: value})
    assert str(e.value) == message
    c = AttentionConfig()
    with pytest.raises(ValueError) as e:
        setattr(c, field, value)
    assert str(e.value) == message


def test_bad_attn_type_in_make_impl(cpu):
    with pytest.raises(ValueError) as e:
        cpu.make_impl(num_heads=4, head_size=64, num_kv_heads=2, attn_type="cross")
    assert str(e.value).startswith("unknown attention type 'cross'")
