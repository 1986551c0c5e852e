"""Every behaviour the seed documents for vllm.v1.attention.backends.registry.

Written from the seeds only, and run against both attnreg.registry and vLLM's
own module (conftest.py), so a pass means attnreg behaves as vLLM does.
"""

from __future__ import annotations

import enum

import pytest

# Members both the seed and every current vLLM have; the rest differ by release.
SEED_MEMBERS = ["FLASH_ATTN", "TRITON_ATTN", "ROCM_ATTN", "TORCH_SDPA", "FLASHINFER", "CUSTOM"]
MAMBA_MEMBERS = ["MAMBA1", "MAMBA2", "SHORT_CONV", "LINEAR", "GDN_ATTN", "CUSTOM"]
CUSTOM_MESSAGE = (
    "Backend {0} must be registered before use. "
    "Use register_backend(Backend.{0}, 'your.module.YourClass')"
)


class ModuleLevelBackend:
    """A Python backend class the decorator registers (importable by path)."""


class ModuleLevelMambaBackend:
    """A Python mamba backend class the decorator registers."""


class Outer:
    class Nested:
        """qualname 'Outer.Nested': the auto path keeps the dots."""


def test_both_enums_are_real_enums(registry):
    assert issubclass(registry.AttentionBackendEnum, enum.Enum)
    assert issubclass(registry.MambaAttentionBackendEnum, enum.Enum)


def test_members_iterate_with_name_and_value(registry):
    names = [m.name for m in registry.AttentionBackendEnum]
    for name in SEED_MEMBERS:
        assert name in names
    assert names[0] == "FLASH_ATTN" and names[-1] == "CUSTOM"
    assert [m.name for m in registry.MambaAttentionBackendEnum] == MAMBA_MEMBERS
    for member in registry.AttentionBackendEnum:
        assert registry.AttentionBackendEnum[member.name] is member
        if member.name not in ("TORCH_SDPA", "CUSTOM"):
            assert member.value.endswith("Backend") and member.value.count(".") >= 3


def test_custom_and_torch_sdpa_are_distinct(registry):
    enum_ = registry.AttentionBackendEnum
    assert enum_.TORCH_SDPA.value == ""
    assert enum_.CUSTOM.value is None
    assert enum_.CUSTOM is not enum_.TORCH_SDPA
    assert enum_("") is enum_.TORCH_SDPA
    assert enum_(None) is enum_.CUSTOM
    assert registry.MambaAttentionBackendEnum(None) is registry.MambaAttentionBackendEnum.CUSTOM


def test_lookup_by_value(registry):
    enum_ = registry.AttentionBackendEnum
    assert enum_(enum_.FLASH_ATTN.value) is enum_.FLASH_ATTN
    with pytest.raises(ValueError) as e:
        enum_("no.such.Path")
    assert str(e.value) == "'no.such.Path' is not a valid AttentionBackendEnum"


@pytest.mark.parametrize("table", ["AttentionBackendEnum", "MambaAttentionBackendEnum"])
def test_unknown_name_raises_value_error_listing_every_member(registry, table):
    enum_ = getattr(registry, table)
    with pytest.raises(ValueError) as e:
        enum_["QQQQQQQQQQQQQQQQQQQQ"]
    valid = ", ".join(m.name for m in enum_)
    assert str(e.value) == f"Unknown attention backend: 'QQQQQQQQQQQQQQQQQQQQ'. Valid options are: {valid}"


def test_get_path_defaults_to_value(registry):
    member = registry.AttentionBackendEnum.FLASH_ATTN
    assert member.get_path() == member.value
    assert member.get_path(include_classname=False) == member.value.rsplit(".", 1)[0]
    assert not member.is_overridden()


@pytest.mark.parametrize("name", ["CUSTOM", "TORCH_SDPA"])
def test_get_path_and_get_class_of_a_member_without_path(registry, name):
    member = registry.AttentionBackendEnum[name]
    for call in (member.get_path, member.get_class):
        with pytest.raises(ValueError) as e:
            call()
        assert str(e.value) == CUSTOM_MESSAGE.format(name)
    mamba = registry.MambaAttentionBackendEnum.CUSTOM
    with pytest.raises(ValueError) as e:
        mamba.get_path()
    assert str(e.value) == CUSTOM_MESSAGE.format("CUSTOM")


def test_direct_registration_returns_identity_and_overrides(registry):
    member = registry.AttentionBackendEnum.CUSTOM
    identity = registry.register_backend(member, "my.module.MyCustomBackend")
    sentinel = object()
    assert identity(sentinel) is sentinel
    assert member.is_overridden()
    assert member.get_path() == "my.module.MyCustomBackend"
    assert member.get_path(include_classname=False) == "my.module"
    assert not registry.AttentionBackendEnum.FLASH_ATTN.is_overridden()


def test_later_registration_overwrites_and_clear_reverts(registry):
    member = registry.AttentionBackendEnum.FLASH_ATTN
    default = member.value
    registry.register_backend(member, "first.module.First")
    registry.register_backend(member, "second.module.Second")
    assert member.get_path() == "second.module.Second"
    member.clear_override()
    assert not member.is_overridden()
    assert member.get_path() == default
    member.clear_override()  # clearing twice is harmless
    assert member.get_path() == default


def test_decorator_registers_module_and_qualname(registry):
    member = registry.AttentionBackendEnum.CUSTOM
    decorated = registry.register_backend(member)(ModuleLevelBackend)
    assert decorated is ModuleLevelBackend
    assert member.get_path() == f"{__name__}.ModuleLevelBackend"
    assert member.get_class() is ModuleLevelBackend


def test_decorator_with_nested_class(registry):
    member = registry.AttentionBackendEnum.FLASH_ATTN
    registry.register_backend(member)(Outer.Nested)
    assert member.get_path() == f"{__name__}.Outer.Nested"


def test_decorator_syntax_overrides_an_existing_backend(registry):
    @registry.register_backend(registry.AttentionBackendEnum.FLASHINFER)
    class MyCustomFlashInfer:
        pass

    assert registry.AttentionBackendEnum.FLASHINFER.get_path().endswith(
        ".test_decorator_syntax_overrides_an_existing_backend.<locals>.MyCustomFlashInfer"
    )
    assert registry.AttentionBackendEnum.FLASHINFER.get_path().startswith(__name__ + ".")


def test_mamba_registration(registry):
    member = registry.MambaAttentionBackendEnum.LINEAR
    registry.register_backend(member, is_mamba=True)(ModuleLevelMambaBackend)
    assert member.is_overridden()
    assert member.get_class() is ModuleLevelMambaBackend
    assert not registry.AttentionBackendEnum.CUSTOM.is_overridden()
    registry.register_backend(registry.MambaAttentionBackendEnum.CUSTOM, "pkg.mamba.Custom", is_mamba=True)
    assert registry.MambaAttentionBackendEnum.CUSTOM.get_path() == "pkg.mamba.Custom"
    member.clear_override()
    assert member.get_path() == member.value


def test_get_class_of_a_missing_module_raises_import_error(registry):
    member = registry.AttentionBackendEnum.CUSTOM
    registry.register_backend(member, "attnreg_no_such_pkg.sub.Backend")
    with pytest.raises(ImportError) as e:
        member.get_class()
    assert isinstance(e.value, ModuleNotFoundError)
    assert "No module named 'attnreg_no_such_pkg'" in str(e.value)

