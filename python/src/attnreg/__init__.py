"""attnreg: an attention backend registry and backend library, from Python.

``attnreg.registry`` is a drop-in for vLLM's
``vllm.v1.attention.backends.registry``; the C++ core (``attnreg._core``)
holds all registry state, so Python and C++ share overrides and classes.

Thread safety: every function here may be called from any thread; see
``attnreg.registry`` and the C++ headers named below for details.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _core
from ._core import (
    AttentionBackend,
    AttentionConfig,
    AttentionImpl,
    AttentionMetadata,
    Platform,
    available_modules,
    known_class_paths,
    plugin_install_dir,
    plugin_search_path,
    resolve_class,
    validate_class_path,
)
from .registry import (
    MAMBA_TYPE_TO_BACKEND_MAP,
    AttentionBackendEnum,
    MambaAttentionBackendEnum,
    register_backend,
)

__version__ = "0.1.0"

__all__ = [
    "AttentionBackend",
    "AttentionBackendEnum",
    "AttentionConfig",
    "AttentionImpl",
    "AttentionMetadata",
    "Candidate",
    "MAMBA_TYPE_TO_BACKEND_MAP",
    "MambaAttentionBackendEnum",
    "Platform",
    "Selection",
    "available_modules",
    "judge_candidates",
    "known_class_paths",
    "plugin_install_dir",
    "plugin_search_path",
    "register_backend",
    "resolve_class",
    "select_backend",
    "validate_class_path",
]


@dataclass(frozen=True)
class Candidate:
    """One backend the selector considered, and its verdict."""

    member: Any  # AttentionBackendEnum
    path: str  # the class path judged (override included); "" when none
    origin: str  # "requested", "env" or "priority"
    valid: bool
    selected: bool
    reasons: list[str]  # why it is not valid; empty when valid
    verdict: str


@dataclass(frozen=True)
class Selection:
    """The outcome of select_backend: the chosen member and every candidate."""

    chosen: Any  # AttentionBackendEnum
    origin: str
    platform: Platform
    config: AttentionConfig
    candidates: list[Candidate]
    backend: AttentionBackend  # the chosen member's class (respects overrides)
    explanation: str  # platform, configuration, choice and candidate table


def _candidate(report: Any) -> Candidate:
    return Candidate(
        member=AttentionBackendEnum[report.member],
        path=report.path,
        origin=report.origin,
        valid=report.valid,
        selected=report.selected,
        reasons=list(report.reasons),
        verdict=report.verdict,
    )


def _request_name(requested: Any) -> str | None:
    if requested is None:
        return None
    if isinstance(requested, AttentionBackendEnum):
        return requested.name
    return AttentionBackendEnum[requested].name  # ValueError for an unknown name


def select_backend(
    config: AttentionConfig,
    platform: Platform | None = None,
    requested: AttentionBackendEnum | str | None = None,
) -> Selection:
    """Choose the attention backend for config on platform (default: the CPU).

    requested (a member or its name) is chosen if valid; without it the
    environment variable ATTNREG_ATTENTION_BACKEND, then the platform's
    priority list. Raises ValueError with vLLM's text when the request, or
    every candidate, is not valid.
    """
    platform = Platform.cpu() if platform is None else platform
    s = _core.select_backend(config, platform, _request_name(requested))
    return Selection(
        chosen=AttentionBackendEnum[s.chosen],
        origin=s.origin,
        platform=s.platform,
        config=s.config,
        candidates=[_candidate(c) for c in s.candidates],
        backend=s.backend(),
        explanation=s.explain(),
    )


def judge_candidates(
    config: AttentionConfig,
    platform: Platform | None = None,
    requested: AttentionBackendEnum | str | None = None,
) -> list[Candidate]:
    """Every candidate select_backend would consider, judged, none chosen.

    Never raises for invalid candidates, so a caller can show why nothing fits.
    """
    platform = Platform.cpu() if platform is None else platform
    return [_candidate(c) for c in _core.judge_candidates(config, platform, _request_name(requested))]
