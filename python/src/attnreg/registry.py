"""Attention backend registry (a drop-in for ``vllm.v1.attention.backends.registry``).

The module has vLLM's names and behaviour: ``AttentionBackendEnum`` and
``MambaAttentionBackendEnum`` are real :class:`enum.Enum` classes whose value is
the default class path, ``register_backend`` overrides a member at run time
(direct or decorator form), and ``get_class()`` resolves the path.

Unlike vLLM, no override is kept in Python: every override lives in the C++
core (``attnreg._core``), so one made here is seen by C++ code in the same
process and the reverse. Where vLLM accepts anything as a path, a malformed
one (empty, ``"a..b"``, a leading or trailing dot) raises ``ValueError`` at
registration and changes nothing.

Paths of Python classes. A decorator-registered class gets vLLM's auto path
``cls.__module__ + "." + cls.__qualname__``. Components that are not ASCII
identifiers (``<locals>`` of a class defined in a function) cannot be stored
in C++ as they are, so they are stored escaped: ``_pyq_`` + the hex of their
UTF-8 bytes (components that already start with ``_pyq_`` are escaped too, so
the escape is reversible). This module unescapes, so Python code always sees
vLLM's path; C++ code sees the escaped one.

``get_class()`` returns, in this order: the C++ class the core resolves
(in-process or a plugin; an :class:`attnreg.AttentionBackend`), the Python
class registered with the decorator at that path, or the object found by
``importlib.import_module(module)`` and ``getattr`` (vLLM's
``resolve_obj_by_qualname``).

Thread safety: every function may be called from any thread. Reads never
block on a concurrent ``register_backend``; they see the old or the new path.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from enum import Enum, EnumMeta
from types import MappingProxyType
from typing import Any

from . import _core

logger = logging.getLogger(__name__)

__all__ = [
    "AttentionBackendEnum",
    "MambaAttentionBackendEnum",
    "MAMBA_TYPE_TO_BACKEND_MAP",
    "register_backend",
    "BACKEND_MAP",
    "backend_name_to_enum",
]

_ESCAPE_PREFIX = "_pyq_"


def _is_cpp_identifier(component: str) -> bool:
    return component.isascii() and component.isidentifier()


def _escape_component(component: str) -> str:
    if component == "" or (
        _is_cpp_identifier(component) and not component.startswith(_ESCAPE_PREFIX)
    ):
        # Empty components stay empty so C++ rejects the malformed path.
        return component
    return _ESCAPE_PREFIX + component.encode("utf-8").hex()


def _unescape_component(component: str) -> str:
    if not component.startswith(_ESCAPE_PREFIX):
        return component
    return bytes.fromhex(component[len(_ESCAPE_PREFIX):]).decode("utf-8")


def to_core_path(path: str) -> str:
    """The form of a Python class path that the C++ core stores (see module doc)."""
    return ".".join(_escape_component(c) for c in path.split("."))


def from_core_path(path: str) -> str:
    """Inverse of :func:`to_core_path`."""
    return ".".join(_unescape_component(c) for c in path.split("."))


# Python classes registered with the decorator, by (unescaped) path: they are
# found even when importlib cannot reach them (a class defined in a function).
# The override itself lives in C++; this only maps a path to its class object,
# as sys.modules does for modules.
_python_classes: dict[str, type] = {}
_python_classes_lock = threading.Lock()


def _resolve_python(path: str) -> Any:
    with _python_classes_lock:
        cls = _python_classes.get(path)
    if cls is not None:
        return cls
    module_name, _, obj_name = path.rpartition(".")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, obj_name)
    except AttributeError:
        raise ImportError(
            f"cannot import name '{obj_name}' from '{module_name}' "
            f"({getattr(module, '__file__', 'built-in')}): the module has no such attribute",
            name=module_name,
        ) from None


def _resolve(core_path: str, resolve_cpp: Callable[[], Any]) -> Any:
    try:
        return resolve_cpp()
    except ModuleNotFoundError as cpp_error:
        path = from_core_path(core_path)
        try:
            return _resolve_python(path)
        except ModuleNotFoundError as py_error:
            raise ModuleNotFoundError(
                f"{py_error} (as a Python module); and as a C++ module: {cpp_error}",
                name=py_error.name,
            ) from None


class _AttentionBackendEnumMeta(EnumMeta):
    """Metaclass for the backend enums: ``Enum[name]`` raises ValueError."""

    def __getitem__(cls, name: str):
        """The member called name; ValueError (vLLM's text) for an unknown name.

        vLLM says "Unknown attention backend" for both enums; the core's
        suggestion (" Did you mean 'X'?") is appended when a member is close.
        """
        try:
            return super().__getitem__(name)
        except KeyError:
            valid_backends = ", ".join(cls.__members__.keys())
            raise ValueError(
                f"Unknown attention backend: '{name}'. "
                f"Valid options are: {valid_backends}{cls._suggestion(name)}"
            ) from None

    def _suggestion(cls, name: str) -> str:
        try:
            cls._core_table("check_name")(str(name))
        except ValueError as e:
            text = str(e)
            at = text.find(" Did you mean ")
            return text[at:] if at >= 0 else ""
        return ""


class _BackendEnumBase(Enum, metaclass=_AttentionBackendEnumMeta):
    """Methods shared by both backend enums; state is in the C++ core."""

    @classmethod
    def _core_table(cls, function: str) -> Callable[..., Any]:
        return getattr(_core, f"{cls._core_prefix()}{function}")

    @classmethod
    def _core_prefix(cls) -> str:
        raise NotImplementedError

    def _core_path(self) -> str:
        try:
            return self._core_table("get_path")(self.name, True)
        except ValueError:
            # The core refuses exactly when the member has no path; the text
            # is vLLM's, which names the member itself in the hint.
            raise ValueError(
                f"Backend {self.name} must be registered before use. "
                f"Use register_backend(Backend.{self.name}, 'your.module.YourClass')"
            ) from None

    def get_path(self, include_classname: bool = True) -> str:
        """Get the class path for this backend (respects overrides).

        Raises:
            ValueError: If Backend.CUSTOM is used without being registered
        """
        path = from_core_path(self._core_path())
        if not include_classname:
            path = path.rsplit(".", 1)[0]
        return path

    def get_class(self) -> Any:
        """Get the backend class (respects overrides).

        Raises:
            ImportError: If the backend class cannot be imported
            ValueError: If Backend.CUSTOM is used without being registered
        """
        core_path = self._core_path()
        return _resolve(core_path, lambda: self._core_table("get_class")(self.name))

    def is_overridden(self) -> bool:
        """Check if this backend has been overridden."""
        return self._core_table("is_overridden")(self.name)

    def clear_override(self) -> None:
        """Clear any override for this backend, reverting to the default."""
        self._core_table("clear_override")(self.name)


def _make_enum(name: str, prefix: str, doc: str) -> type:
    namespace = _AttentionBackendEnumMeta.__prepare__(name, (_BackendEnumBase,))
    for member, default_path in getattr(_core, f"{prefix}members")():
        # vLLM makes CUSTOM None so it does not alias TORCH_SDPA's "".
        namespace[member] = None if member == "CUSTOM" else default_path
    namespace["__module__"] = __name__
    namespace["__qualname__"] = name
    namespace["__doc__"] = doc
    namespace["_core_prefix"] = classmethod(lambda cls: prefix)
    return _AttentionBackendEnumMeta(name, (_BackendEnumBase,), namespace)


AttentionBackendEnum = _make_enum(
    "AttentionBackendEnum",
    "attention_",
    """Enumeration of all supported attention backends.

    The enum value is the default class path, but this can be overridden
    at runtime using register_backend().

    To get the actual backend class (respecting overrides), use:
        backend.get_class()
    """,
)

MambaAttentionBackendEnum = _make_enum(
    "MambaAttentionBackendEnum",
    "mamba_",
    """Enumeration of all supported mamba attention backends.

    The enum value is the default class path, but this can be overridden
    at runtime using register_backend().

    To get the actual backend class (respecting overrides), use:
        backend.get_class()
    """,
)

#: Model mamba type -> MambaAttentionBackendEnum member name (a plain dict, as vLLM's).
MAMBA_TYPE_TO_BACKEND_MAP: dict[str, str] = dict(_core.mamba_type_map())


def _check_member(backend: Any, is_mamba: bool) -> None:
    expected = MambaAttentionBackendEnum if is_mamba else AttentionBackendEnum
    if not isinstance(backend, expected):
        raise ValueError(
            f"register_backend: backend must be a {expected.__name__} member "
            f"{'(is_mamba=True)' if is_mamba else '(is_mamba=False)'}, got {backend!r}"
        )


def register_backend(
    backend: Any,
    class_path: str | None = None,
    is_mamba: bool = False,
) -> Callable[[type], type]:
    """Register or override a backend implementation.

    Args:
        backend: The AttentionBackendEnum member to register
            (a MambaAttentionBackendEnum member with is_mamba=True)
        class_path: Optional class path. If not provided and used as
            decorator, will be auto-generated from the class.

    Returns:
        Decorator function if class_path is None, otherwise a no-op

    Raises:
        ValueError: backend is not a member of the table is_mamba names, or
            class_path is malformed (nothing changes)
    """
    _check_member(backend, is_mamba)
    register = backend._core_table("register_backend")

    def decorator(cls: type) -> type:
        path = f"{cls.__module__}.{cls.__qualname__}"
        register(backend.name, to_core_path(path))
        with _python_classes_lock:
            _python_classes[path] = cls
        return cls

    if class_path is not None:
        register(backend.name, to_core_path(class_path))
        return lambda x: x

    return decorator


# ---- legacy names (vllm.attention.backends.registry) ----

_BACKEND_RENAMED = (
    "_Backend has been renamed to AttentionBackendEnum. "
    "Please update your code to use AttentionBackendEnum instead. "
    "_Backend will be removed in a future release."
)


class _BackendMeta(type):
    """Makes ``_Backend`` forward to AttentionBackendEnum with a warning."""

    def __getattribute__(cls, name: str):
        if name not in ("__class__", "__mro__", "__name__"):
            logger.warning(_BACKEND_RENAMED)
        return getattr(AttentionBackendEnum, name)

    def __getitem__(cls, name: str):
        logger.warning(_BACKEND_RENAMED)
        return AttentionBackendEnum[name]


class _Backend(metaclass=_BackendMeta):
    """Deprecated alias of AttentionBackendEnum (logs a warning on each use)."""


#: The legacy default paths: AttentionBackendEnum member -> path (read-only).
BACKEND_MAP: Mapping[Any, str] = MappingProxyType(
    {AttentionBackendEnum[name]: path for name, path in _core.legacy_backend_map()}
)


def backend_name_to_enum(backend_name: str) -> Any:
    """Convert a string backend name to an AttentionBackendEnum member.

    A trailing ``_VLLM_V1`` is ignored. Returns None for a name that is not an
    in-tree backend (an out-of-tree platform's backend).
    """
    name = _core.legacy_backend_name_to_enum(backend_name)
    return None if name is None else AttentionBackendEnum[name]
