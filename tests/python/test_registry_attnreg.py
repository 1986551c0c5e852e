"""attnreg.registry beyond vLLM's module: state in C++, path rules, errors, legacy names."""

from __future__ import annotations

import logging

import pytest

from attnreg import (
    AttentionBackend,
    _core,
    available_modules,
    plugin_install_dir,
    plugin_search_path,
    resolve_class,
)
from attnreg import registry as registry_module


class ModuleLevel:
    """A Python class at an importable path."""


def make_local_class(name: str = "Local"):
    class Local:
        pass

    Local.__qualname__ = f"make_local_class.<locals>.{name}"
    return Local


def test_mamba_type_to_backend_map(reg):
    # vLLM had this map until 0.32; it is part of attnreg's pinned API.
    assert reg.MAMBA_TYPE_TO_BACKEND_MAP == {
        "mamba1": "MAMBA1",
        "mamba2": "MAMBA2",
        "short_conv": "SHORT_CONV",
        "linear_attention": "LINEAR",
        "gdn_attention": "GDN_ATTN",
        "custom": "CUSTOM",
    }


def test_members_are_the_cores(reg):
    assert [(m.name, m.value or "") for m in reg.AttentionBackendEnum] == _core.attention_members()
    assert [(m.name, m.value or "") for m in reg.MambaAttentionBackendEnum] == _core.mamba_members()


def test_unknown_close_name_gets_a_suggestion(reg):
    valid = ", ".join(m.name for m in reg.AttentionBackendEnum)
    with pytest.raises(ValueError) as e:
        reg.AttentionBackendEnum["flash_attn"]
    assert str(e.value) == (
        f"Unknown attention backend: 'flash_attn'. Valid options are: {valid} Did you mean 'FLASH_ATTN'?"
    )
    mamba_valid = ", ".join(m.name for m in reg.MambaAttentionBackendEnum)
    with pytest.raises(ValueError) as e:
        reg.MambaAttentionBackendEnum["MAMBA3"]
    assert str(e.value).startswith(f"Unknown attention backend: 'MAMBA3'. Valid options are: {mamba_valid} ")
    assert "Did you mean 'MAMBA" in str(e.value)


@pytest.mark.parametrize("bad", ["", "a..b", ".a.b", "a.b."])
def test_malformed_direct_path_is_refused_and_changes_nothing(reg, bad):
    member = reg.AttentionBackendEnum.FLASH_ATTN
    reg.register_backend(member, "kept.module.Kept")
    with pytest.raises(ValueError) as e:
        reg.register_backend(member, bad)
    assert "class path" in str(e.value)
    assert member.get_path() == "kept.module.Kept"


def test_malformed_path_message_names_the_problem(reg):
    with pytest.raises(ValueError) as e:
        reg.register_backend(reg.AttentionBackendEnum.CUSTOM, "a..b")
    assert str(e.value) == _cpp_validation_message("a..b")
    assert not reg.AttentionBackendEnum.CUSTOM.is_overridden()


def _cpp_validation_message(path: str) -> str:
    with pytest.raises(ValueError) as e:
        _core.validate_class_path(path)
    return str(e.value)


def test_member_of_the_wrong_table_is_refused(reg):
    with pytest.raises(ValueError) as e:
        reg.register_backend(reg.MambaAttentionBackendEnum.LINEAR, "a.b.C")
    assert str(e.value) == (
        "register_backend: backend must be a AttentionBackendEnum member (is_mamba=False), "
        "got <MambaAttentionBackendEnum.LINEAR: 'attnreg.backends.linear_attn.LinearAttentionBackend'>"
    )
    with pytest.raises(ValueError) as e:
        reg.register_backend(reg.AttentionBackendEnum.CUSTOM, "a.b.C", is_mamba=True)
    assert str(e.value) == (
        "register_backend: backend must be a MambaAttentionBackendEnum member (is_mamba=True), "
        "got <AttentionBackendEnum.CUSTOM: None>"
    )
    with pytest.raises(ValueError):
        reg.register_backend("CUSTOM", "a.b.C")
    assert not reg.MambaAttentionBackendEnum.LINEAR.is_overridden()


def test_local_class_keeps_vllm_path_and_resolves(reg):
    local = make_local_class()
    reg.register_backend(reg.AttentionBackendEnum.CUSTOM)(local)
    path = f"{__name__}.make_local_class.<locals>.Local"
    assert reg.AttentionBackendEnum.CUSTOM.get_path() == path
    assert reg.AttentionBackendEnum.CUSTOM.get_class() is local
    # C++ stores the escaped form, which it accepts as a class path.
    stored = _core.attention_get_path("CUSTOM")
    assert stored == f"{__name__}.make_local_class._pyq_{'<locals>'.encode().hex()}.Local"
    _core.validate_class_path(stored)


@pytest.mark.parametrize(
    "path",
    ["a.b.C", "m.f.<locals>.C", "m.b-c.D", "m._pyq_41.C", "m.\u00e9t\u00e9.C", "m.class.C", "m.1x.C"],
)
def test_path_escape_round_trips(path):
    stored = registry_module.to_core_path(path)
    _core.validate_class_path(stored)
    assert registry_module.from_core_path(stored) == path


def test_escape_leaves_plain_paths_alone():
    assert registry_module.to_core_path("pkg.mod.Klass") == "pkg.mod.Klass"


def test_cpp_class_resolves_to_an_attention_backend(reg):
    backend = reg.AttentionBackendEnum.NO_ATTENTION.get_class()
    assert isinstance(backend, AttentionBackend)
    assert backend.get_name() == "NO_ATTENTION"
    assert backend is reg.AttentionBackendEnum.NO_ATTENTION.get_class()


def test_cpp_class_wins_over_python_fallback(reg):
    reg.register_backend(reg.AttentionBackendEnum.CUSTOM, "attnreg.backends.no_attention.NoAttentionBackend")
    assert reg.AttentionBackendEnum.CUSTOM.get_class().get_name() == "NO_ATTENTION"


def test_missing_module_message_names_both_lookups(reg):
    reg.register_backend(reg.AttentionBackendEnum.CUSTOM, "attnreg_no_such_pkg.Backend")
    with pytest.raises(ModuleNotFoundError) as e:
        reg.AttentionBackendEnum.CUSTOM.get_class()
    text = str(e.value)
    assert text.startswith("No module named 'attnreg_no_such_pkg' (as a Python module); and as a C++ module: ")
    assert "attnreg_no_such_pkg.so" in text
    assert e.value.name == "attnreg_no_such_pkg"


def test_missing_attribute_raises_import_error(reg):
    reg.register_backend(reg.AttentionBackendEnum.CUSTOM, f"{__name__}.NoSuchClass")
    with pytest.raises(ImportError) as e:
        reg.AttentionBackendEnum.CUSTOM.get_class()
    assert not isinstance(e.value, ModuleNotFoundError)
    assert str(e.value) == (
        f"cannot import name 'NoSuchClass' from '{__name__}' ({__file__}): the module has no such attribute"
    )


def test_import_error_of_a_python_module_propagates(reg, tmp_path, monkeypatch):
    (tmp_path / "attnreg_broken_mod.py").write_text("raise ImportError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg.register_backend(reg.AttentionBackendEnum.CUSTOM, "attnreg_broken_mod.Backend")
    with pytest.raises(ImportError, match="^broken on purpose$"):
        reg.AttentionBackendEnum.CUSTOM.get_class()


def test_legacy_backend_alias_warns_and_forwards(reg, caplog):
    with caplog.at_level(logging.WARNING, logger="attnreg.registry"):
        assert reg._Backend.FLASH_ATTN is reg.AttentionBackendEnum.FLASH_ATTN
        assert reg._Backend["CUSTOM"] is reg.AttentionBackendEnum.CUSTOM
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "_Backend has been renamed to AttentionBackendEnum. "
        "Please update your code to use AttentionBackendEnum instead. "
        "_Backend will be removed in a future release."
    ] * 2


def test_legacy_backend_map(reg):
    assert len(reg.BACKEND_MAP) == 18
    assert reg.BACKEND_MAP[reg.AttentionBackendEnum.TORCH_SDPA] == "attnreg.backends.cpu_attn.TorchSDPABackend"
    assert reg.BACKEND_MAP[reg.AttentionBackendEnum.FLASH_ATTN] == reg.AttentionBackendEnum.FLASH_ATTN.value
    assert reg.AttentionBackendEnum.IPEX not in reg.BACKEND_MAP
    with pytest.raises(TypeError):
        reg.BACKEND_MAP[reg.AttentionBackendEnum.CUSTOM] = "a.b.C"


def test_legacy_backend_name_to_enum(reg):
    assert reg.backend_name_to_enum("FLASH_ATTN") is reg.AttentionBackendEnum.FLASH_ATTN
    assert reg.backend_name_to_enum("FLASHINFER_VLLM_V1") is reg.AttentionBackendEnum.FLASHINFER
    assert reg.backend_name_to_enum("NO_ATTENTION") is reg.AttentionBackendEnum.NO_ATTENTION
    assert reg.backend_name_to_enum("OUT_OF_TREE") is None


def test_cpp_module_without_the_class_raises_import_error(reg):
    reg.register_backend(reg.AttentionBackendEnum.CUSTOM, "attnreg.backends.cpu_attn.NoSuchBackend")
    with pytest.raises(ImportError) as e:
        reg.AttentionBackendEnum.CUSTOM.get_class()
    assert type(e.value) is ImportError  # the module exists: not ModuleNotFoundError
    text = str(e.value)
    assert text.startswith(
        "Cannot import 'attnreg.backends.cpu_attn.NoSuchBackend': module 'attnreg.backends.cpu_attn' (file '"
    )
    assert text.endswith("has no class 'NoSuchBackend'; it provides: CPUAttentionBackend, TorchSDPABackend")


def test_resolve_class_of_a_malformed_path_raises_value_error():
    with pytest.raises(ValueError) as e:
        resolve_class("a..b")
    assert str(e.value) == (
        "Invalid class path 'a..b': empty component at offset 2 ('..'). "
        "Expected dotted identifiers such as 'my.module.MyBackend'"
    )


def test_plugin_directory_is_next_to_the_core():
    assert plugin_install_dir().endswith("/attnreg/plugins")
    assert plugin_install_dir() in plugin_search_path()
    assert {"attnreg.backends.cpu_attn", "attnreg.backends.no_attention"} <= set(available_modules())
