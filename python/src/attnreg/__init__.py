"""attnreg: an attention backend registry and backend library, from Python.

``attnreg.registry`` is a drop-in for vLLM's
``vllm.v1.attention.backends.registry``; the C++ core (``attnreg._core``)
holds all registry state, so Python and C++ share overrides and classes.

Thread safety: every function here may be called from any thread; see
``attnreg.registry`` and the C++ headers named below for details.
"""

from __future__ import annotations

import copy
import dataclasses
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
    backend: Any  # the chosen member's class (respects overrides): C++ AttentionBackend or Python class
    explanation: str  # platform, configuration, choice and candidate table


_NOT_AVAILABLE = "not available: No module named "


def _candidate(report: Any, config: AttentionConfig, platform: Platform) -> Candidate:
    """The C++ verdict, or, for a class only Python has, the Python class's own.

    The C++ selector cannot import a Python class, so it reports such a
    candidate as "not available"; here its class is resolved through
    attnreg.registry and judged by its validate_configuration(config) (the
    config carrying the platform's device, as the C++ selector does).
    """
    member = AttentionBackendEnum[report.member]
    reasons = list(report.reasons)
    valid = report.valid
    if not valid and len(reasons) == 1 and reasons[0].startswith(_NOT_AVAILABLE):
        try:
            cls = member.get_class()
        except ImportError:
            cls = None
        if cls is not None:
            reasons = _python_reasons(cls, config, platform)
            valid = not reasons
    return Candidate(
        member=member,
        path=report.path,
        origin=report.origin,
        valid=valid,
        selected=report.selected,
        reasons=reasons,
        verdict=report.verdict if valid == report.valid else ("valid" if valid else "not valid"),
    )


def _python_reasons(cls: Any, config: AttentionConfig, platform: Platform) -> list[str]:
    validate = getattr(cls, "validate_configuration", None)
    if validate is None:
        return [f"{cls.__module__}.{cls.__qualname__} has no validate_configuration(config)"]
    judged = copy.copy(config)
    judged.device = platform.device
    judged.device_capability = platform.capability
    return [str(r) for r in validate(judged)]
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
    priority list. A candidate whose class is a Python class (registered with
    the decorator or importable) is judged by its validate_configuration.
    Raises ValueError with vLLM's text when the request, or every candidate,
    is not valid.
    """
    platform = Platform.cpu() if platform is None else platform
    try:
        s = _core.select_backend(config, platform, _request_name(requested))
    except ValueError:
        # Perhaps a candidate is a Python class, which only Python can judge.
        chosen = _select_python(config, platform, requested)
        if chosen is None:
            raise
        return chosen
    return Selection(
        chosen=AttentionBackendEnum[s.chosen],
        origin=s.origin,
        platform=s.platform,
        config=s.config,
        candidates=[_candidate(c, config, platform) for c in s.candidates],
        backend=s.backend(),
        explanation=s.explain(),
    )


def _select_python(config: AttentionConfig, platform: Platform, requested: Any) -> Selection | None:
    """select_backend's rule over candidates judged in Python, or None when no Python class decides."""
    candidates = judge_candidates(config, platform, requested)
    first = candidates[0] if candidates else None
    if first is not None and first.origin in ("requested", "env"):
        if not first.valid:
            if first.reasons and first.reasons[0].startswith(_NOT_AVAILABLE):
                return None  # the C++ verdict stands
            raise ValueError(
                f"Selected backend {first.member} is not valid for this configuration. Reason: {first.reasons}"
            )
        pick = first
    else:
        pick = next((c for c in candidates if c.valid), None)
        if pick is None:
            return None
    judged = [dataclasses.replace(c, selected=c is pick, verdict="selected" if c is pick else c.verdict)
              for c in candidates]
    lines = [f"platform: {platform.name}", f"chosen: {pick.member.name} ({pick.origin}), a Python class"]
    lines += [f"{'*' if c.selected else ' '} {c.member.name} [{c.origin}] {c.verdict} {c.path}"
              + "".join(f"\n    - {r}" for r in c.reasons) for c in judged]
    return Selection(
        chosen=pick.member,
        origin=pick.origin,
        platform=platform,
        config=config,
        candidates=judged,
        backend=pick.member.get_class(),
        explanation="\n".join(lines),
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
    reports = _core.judge_candidates(config, platform, _request_name(requested))
    return [_candidate(c, config, platform) for c in reports]
