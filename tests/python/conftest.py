"""Fixtures of the attnreg Python tests.

``registry`` parametrizes the seed tests over the module under test: ours
(``attnreg.registry``) and, when it can be fetched, vLLM's own
``vllm.v1.attention.backends.registry`` (via bench/registry/fetch_vllm_registry.py,
which downloads the vLLM wheel with pip once and caches the module). Without
network the vLLM run is skipped with the fetcher's message, so the seed tests
are known to describe vLLM's behaviour and not only ours.
"""

from __future__ import annotations

import pathlib
import sys

import pytest

import attnreg.registry

_REPO = pathlib.Path(__file__).resolve().parents[2]
_FETCHER_DIR = _REPO / "bench" / "registry"

_vllm_module = None
_vllm_error: str | None = None


def _load_vllm():
    global _vllm_module, _vllm_error
    if _vllm_module is None and _vllm_error is None:
        sys.path.insert(0, str(_FETCHER_DIR))
        try:
            from fetch_vllm_registry import VllmFetchError, load_vllm_registry

            try:
                _vllm_module = load_vllm_registry()
            except VllmFetchError as e:
                _vllm_error = f"vLLM's registry.py could not be fetched: {e}"
        except ImportError as e:
            _vllm_error = f"the fetcher bench/registry/fetch_vllm_registry.py is not importable: {e}"
        finally:
            sys.path.remove(str(_FETCHER_DIR))
    if _vllm_module is None:
        pytest.skip(f"seed test not run against vLLM's own module: {_vllm_error}")
    return _vllm_module


def _clear_overrides(module) -> None:
    for enum in (module.AttentionBackendEnum, module.MambaAttentionBackendEnum):
        for member in enum:
            member.clear_override()


@pytest.fixture(params=["attnreg", "vllm"])
def registry(request):
    """The registry module under test, with no override before or after."""
    module = attnreg.registry if request.param == "attnreg" else _load_vllm()
    _clear_overrides(module)
    yield module
    _clear_overrides(module)


@pytest.fixture
def reg():
    """attnreg.registry alone (behaviour that goes beyond vLLM's), with no override."""
    _clear_overrides(attnreg.registry)
    yield attnreg.registry
    _clear_overrides(attnreg.registry)
