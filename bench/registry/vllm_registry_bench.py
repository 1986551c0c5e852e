"""Compare attnreg's registry with vLLM's real one, in the same run.

Fetches vLLM's ``vllm/v1/attention/backends/registry.py`` (see
fetch_vllm_registry.py), times its operations with timeit, runs our
bench_registry with JSON output, and prints both with the ratio
(vLLM time / attnreg time; higher means attnreg is faster).

    python3 bench/registry/vllm_registry_bench.py --bench build/bin/bench_registry

Both sides report the minimum over repetitions of the wall time per
operation, the figure least disturbed by other load on the machine.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import timeit

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fetch_vllm_registry import VllmFetchError, fetch_registry_module, load_vllm_registry, vllm_version  # noqa: E402

# (label, bench_registry benchmark, Python statement timed against vLLM)
OPERATIONS = [
    ("Enum[name] / from_name", "BM_FromName", "E['FLASH_ATTN']"),
    ("unknown name (error path)", "BM_FromNameUnknown", "unknown()"),
    ("get_path() default", "BM_GetPathDefault", "E.FLASH_ATTN.get_path()"),
    ("get_path() overridden", "BM_GetPathOverridden", "E.CUSTOM.get_path()"),
    ("get_class() resolved", "BM_GetClassResolved", "E.CUSTOM.get_class()"),
    ("register_backend + clear_override", "BM_RegisterAndClear", "register_and_clear()"),
]


def make_dummy_module(directory: pathlib.Path) -> str:
    """A real importable class for get_class() to resolve; returns its path."""
    (directory / "attnreg_bench_dummy.py").write_text("class DummyBackend:\n    pass\n")
    sys.path.insert(0, str(directory))
    return "attnreg_bench_dummy.DummyBackend"


def time_vllm(registry, dummy_path: str, repeat: int) -> dict[str, float]:
    E = registry.AttentionBackendEnum
    registry.register_backend(E.CUSTOM, dummy_path)
    assert E.CUSTOM.get_class().__name__ == "DummyBackend"

    def unknown():
        try:
            E["flash_atn"]
        except ValueError:
            pass

    def register_and_clear():
        registry.register_backend(E.FLASH_ATTN, dummy_path)
        E.FLASH_ATTN.clear_override()

    env = {"E": E, "unknown": unknown, "register_and_clear": register_and_clear}
    out = {}
    for label, _, stmt in OPERATIONS:
        timer = timeit.Timer(stmt, globals=env)
        number, _ = timer.autorange()
        out[label] = min(timer.repeat(repeat=repeat, number=number)) / number * 1e9
    return out


def time_attnreg(binary: pathlib.Path, repeat: int) -> dict[str, float]:
    wanted = "|".join(name for _, name, _ in OPERATIONS)
    cmd = [str(binary), f"--benchmark_filter=^({wanted})$", "--benchmark_format=json",
           f"--benchmark_repetitions={repeat}", "--benchmark_min_time=0.2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    best: dict[str, float] = {}
    for b in json.loads(proc.stdout)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
        name = b["run_name"]
        best[name] = min(best.get(name, float("inf")), b["real_time"] * scale)
    return {label: best[name] for label, name, _ in OPERATIONS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", type=pathlib.Path, default=pathlib.Path("build/bin/bench_registry"),
                    help="path to bench_registry (default: %(default)s)")
    ap.add_argument("--vllm-version", default=None, help="vLLM version to fetch (default: newest, or cached)")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions; the minimum is reported")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    if not args.bench.is_file():
        sys.exit(f"vllm_registry_bench: {args.bench} does not exist; build the bench_registry target "
                 "or pass --bench PATH")
    try:
        root = fetch_registry_module(args.vllm_version)
        registry = load_vllm_registry(args.vllm_version)
    except VllmFetchError as e:
        sys.exit(f"vllm_registry_bench: cannot fetch vLLM's registry: {e}")

    with tempfile.TemporaryDirectory() as tmp:
        dummy = make_dummy_module(pathlib.Path(tmp))
        vllm = time_vllm(registry, dummy, args.repeat)
    ours = time_attnreg(args.bench, args.repeat)

    print(f"vLLM {vllm_version(root)} (Python {sys.version.split()[0]}) vs attnreg bench_registry; "
          f"min of {args.repeat} repetitions, ns per operation")
    if args.markdown:
        print("| operation | vLLM (ns) | attnreg (ns) | vLLM / attnreg |")
        print("| --- | ---: | ---: | ---: |")
        for label, _, _ in OPERATIONS:
            print(f"| {label} | {vllm[label]:.1f} | {ours[label]:.1f} | {vllm[label] / ours[label]:.0f}x |")
    else:
        print(f"{'operation':36} {'vLLM ns':>10} {'attnreg ns':>11} {'ratio':>8}")
        for label, _, _ in OPERATIONS:
            print(f"{label:36} {vllm[label]:10.1f} {ours[label]:11.1f} {vllm[label] / ours[label]:7.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
