"""Fetch vLLM's real attention-backend registry module for comparisons.

vLLM is far too heavy to install for a benchmark or a conformance test, and
its registry module only needs two helpers from the rest of vLLM. So this
helper downloads the vLLM wheel with pip (no dependencies), extracts only
``vllm/v1/attention/backends/registry.py`` into a cache directory, and writes
minimal stand-ins for what that module imports (``vllm.logger.init_logger``
and ``vllm.utils.import_utils.resolve_obj_by_qualname``, the latter with
vLLM's documented behaviour: rsplit the qualname, import the module, getattr).
Nothing from vLLM is stored in this repository; it is fetched at run time.

Usage from Python (e.g. a pytest fixture)::

    from fetch_vllm_registry import load_vllm_registry, VllmFetchError
    registry = load_vllm_registry()          # the imported module
    registry.AttentionBackendEnum["FLASH_ATTN"]

The cache lives in ``$ATTNREG_VLLM_CACHE``, else ``$XDG_CACHE_HOME/attnreg/vllm``,
else ``~/.cache/attnreg/vllm``; the vLLM version is ``$ATTNREG_VLLM_VERSION`` or
the newest on PyPI. Without network access (and without a cached copy),
``VllmFetchError`` is raised with a message saying so.

Run as a script, it prints the directory to put on ``sys.path``.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

REGISTRY_MEMBER = "vllm/v1/attention/backends/registry.py"

# Stand-ins for the only vLLM modules registry.py imports at run time.
_STUBS = {
    "vllm/__init__.py": "",
    "vllm/logger.py": (
        "import logging\n\n\n"
        "def init_logger(name):\n"
        "    return logging.getLogger(name)\n"
    ),
    "vllm/utils/__init__.py": "",
    "vllm/utils/import_utils.py": (
        "import importlib\n\n\n"
        "def resolve_obj_by_qualname(qualname):\n"
        "    module_name, obj_name = qualname.rsplit('.', 1)\n"
        "    module = importlib.import_module(module_name)\n"
        "    return getattr(module, obj_name)\n"
    ),
    "vllm/v1/__init__.py": "",
    "vllm/v1/attention/__init__.py": "",
    "vllm/v1/attention/backends/__init__.py": "",
}


class VllmFetchError(RuntimeError):
    """vLLM's registry module could not be fetched (network, pip, or layout)."""


def cache_dir() -> pathlib.Path:
    """The directory downloads and extracted modules are kept in."""
    if os.environ.get("ATTNREG_VLLM_CACHE"):
        return pathlib.Path(os.environ["ATTNREG_VLLM_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "attnreg" / "vllm"


def _download_wheel(version: str | None, into: pathlib.Path) -> pathlib.Path:
    spec = f"vllm=={version}" if version else "vllm"
    cmd = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "--only-binary", ":all:",
           "--quiet", "--dest", str(into)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise VllmFetchError(f"could not run pip to download {spec}: {e}") from e
    if proc.returncode != 0:
        raise VllmFetchError(
            f"pip could not download {spec} (is the network or a PyPI mirror reachable?). "
            f"Command: {' '.join(cmd)}\n{proc.stderr.strip()[-2000:]}")
    wheels = sorted(into.glob("vllm-*.whl"))
    if not wheels:
        raise VllmFetchError(f"pip reported success but left no vllm wheel in {into}")
    return wheels[-1]


def fetch_registry_module(version: str | None = None) -> pathlib.Path:
    """Returns a directory that makes ``vllm.v1.attention.backends.registry`` importable.

    Downloads once per version (the newest when version is None and nothing is
    cached); later calls reuse the cache without touching the network.
    """
    version = version or os.environ.get("ATTNREG_VLLM_VERSION") or None
    root = cache_dir()
    existing = sorted(root.glob(f"vllm-{version or '*'}-module"))
    if existing and (existing[-1] / REGISTRY_MEMBER).is_file():
        return existing[-1]
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        wheel = _download_wheel(version, pathlib.Path(tmp))
        found_version = wheel.name.split("-")[1]
        target = root / f"vllm-{found_version}-module"
        staging = pathlib.Path(tmp) / "module"
        try:
            with zipfile.ZipFile(wheel) as zf:
                source = zf.read(REGISTRY_MEMBER)
        except (zipfile.BadZipFile, KeyError) as e:
            raise VllmFetchError(f"{wheel.name} has no {REGISTRY_MEMBER}: {e}") from e
        for rel, text in _STUBS.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (staging / REGISTRY_MEMBER).write_bytes(source)
        (staging / "VERSION").write_text(found_version + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # the 300+ MB wheel goes away with tmp
    return target


def load_vllm_registry(version: str | None = None):
    """Imports and returns vLLM's ``vllm.v1.attention.backends.registry``.

    Refuses to run when another ``vllm`` package is already imported, since the
    stand-ins would then mix with the real thing.
    """
    root = fetch_registry_module(version)
    loaded = sys.modules.get("vllm")
    if loaded is not None and not str(getattr(loaded, "__file__", "")).startswith(str(root)):
        raise VllmFetchError(f"another vllm package is already imported ({loaded.__file__}); "
                             "load the fetched registry in a fresh interpreter")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("vllm.v1.attention.backends.registry")


def vllm_version(root: pathlib.Path) -> str:
    """The vLLM version a fetched module directory came from."""
    return (root / "VERSION").read_text().strip()


if __name__ == "__main__":
    try:
        print(fetch_registry_module(sys.argv[1] if len(sys.argv) > 1 else None))
    except VllmFetchError as e:
        sys.exit(f"fetch_vllm_registry: {e}")
