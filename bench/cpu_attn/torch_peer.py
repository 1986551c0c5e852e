#!/usr/bin/env python3
"""CPU_ATTN against PyTorch's CPU scaled_dot_product_attention, in one run.

Runs bench_cpu_attn (paged bf16 cache, GQA 32/8, head 128, block 16) and
torch.nn.functional.scaled_dot_product_attention on the same shapes with a
contiguous cache (GQA through enable_gqa=True, no repeat_interleave), prints
a ratio table, and plots the sweeps into docs/cpu_attn_decode.png and
docs/cpu_attn_prefill.png.

Each CPU_ATTN shape runs --rounds times in shuffled order (Google
Benchmark's random interleaving). Decode is reported against two floors: the
read bandwidth measured once at start-up, and the matched floor, the same
measurement taken right before and right after that round of that shape
(their mean); "of matched floor" is the median over the rounds, with the
lowest and highest round. The VM's bandwidth moves with its neighbours, so
only the matched figure says what fraction of the available bandwidth a
decode used. A decode round whose process CPU time is below 90% of the
OpenMP threads x its wall time shared a core with another process (the
matched floor does not correct for that); such rounds are left out of the
medians and counted.

torch and matplotlib are installed from PyPI on first use (`pip install torch
matplotlib`); this script is a benchmark, not part of CI.

    python3 bench/cpu_attn/torch_peer.py --bench build-cpu/bin/bench_cpu_attn
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from statistics import median

HEADS, KV_HEADS, HEAD_SIZE = 32, 8, 128


def ensure(module, package):
    """Imports module, pip-installing package from PyPI when it is missing."""
    try:
        return __import__(module)
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", package])
        return __import__(module)


def run_ours(bench, prefill, decode_filter, rounds):
    """Runs bench_cpu_attn; returns (context, {("decode", B, L) or ("prefill", N): result}),
    each result the medians over the rounds (and the matched fraction's range)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    pattern = f"BM_Decode/({decode_filter})/|BM_Prefill/({'|'.join(map(str, prefill))})/"
    subprocess.check_call([bench, f"--benchmark_filter={pattern}", f"--benchmark_out={out}",
                           "--benchmark_out_format=json", f"--benchmark_repetitions={rounds}",
                           "--benchmark_enable_random_interleaving=true"])
    with open(out) as f:
        data = json.load(f)
    os.unlink(out)
    threads = int(data["context"]["omp_threads"])
    per_round = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        parts = b["name"].split("/")
        seconds = b["real_time"] / {"ms": 1e3, "us": 1e6, "ns": 1e9, "s": 1.0}[b["time_unit"]]
        key = ("decode", int(parts[1]), int(parts[2])) if parts[0] == "BM_Decode" else ("prefill", int(parts[1]))
        r = {"seconds": seconds, "bytes_per_second": b["bytes_per_second"], "flops": b["FLOP/s"],
             "bw_frac": b["bw_frac"], "peak_frac": b["peak_frac"]}
        if "matched_frac" in b:
            r["matched_frac"] = b["matched_frac"]
            r["matched_floor"] = (b["floor_before_gbs"] + b["floor_after_gbs"]) / 2
            r["contended"] = b["cpu_time"] < 0.9 * threads * b["real_time"]
        per_round.setdefault(key, []).append(r)
    results = {}
    for key, all_rounds in per_round.items():
        rs = [r for r in all_rounds if not r.get("contended")] or all_rounds  # all contended: keep, say so
        results[key] = {name: median([r[name] for r in rs]) for name in rs[0] if name != "contended"}
        if "matched_frac" in rs[0]:
            results[key]["matched_range"] = (min(r["matched_frac"] for r in rs), max(r["matched_frac"] for r in rs))
            results[key]["floor_range"] = (min(r["matched_floor"] for r in rs), max(r["matched_floor"] for r in rs))
        results[key]["contended"] = sum(bool(r.get("contended")) for r in all_rounds)
        results[key]["all_rounds"] = len(all_rounds)
    return data["context"], results


def time_torch(torch, fn, min_seconds=0.5, max_reps=50):
    """Median seconds of fn() after one warm-up call, over at least min_seconds."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_reps and (len(times) < 3 or time.perf_counter() - start < min_seconds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def run_torch(torch, keys):
    """Seconds per call of torch SDPA for every ("decode", B, L) / ("prefill", N) key."""
    F = torch.nn.functional
    bf16 = torch.bfloat16
    results = {}
    for key in keys:
        torch.manual_seed(0)
        if key[0] == "decode":
            _, batch, context = key
            q = torch.rand(batch, HEADS, 1, HEAD_SIZE, dtype=bf16) * 2 - 1
            k = torch.rand(batch, KV_HEADS, context, HEAD_SIZE, dtype=bf16) * 2 - 1
            v = torch.rand(batch, KV_HEADS, context, HEAD_SIZE, dtype=bf16) * 2 - 1
            fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=False, enable_gqa=True)
        else:
            n = key[1]
            q = torch.rand(1, HEADS, n, HEAD_SIZE, dtype=bf16) * 2 - 1
            k = torch.rand(1, KV_HEADS, n, HEAD_SIZE, dtype=bf16) * 2 - 1
            v = torch.rand(1, KV_HEADS, n, HEAD_SIZE, dtype=bf16) * 2 - 1
            fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        with torch.inference_mode():
            results[key] = time_torch(torch, fn, max_reps=50 if key[0] == "decode" else 3)
        print(f"torch {key}: {results[key] * 1e3:.2f} ms", file=sys.stderr)
    return results


def plot(plt, ours, theirs, floor_gbs, peak_gflops, docs):
    os.makedirs(docs, exist_ok=True)  # a --docs folder of its own need not exist yet
    decode = sorted(k for k in ours if k[0] == "decode")
    fig, ax = plt.subplots(figsize=(9.5, 4.5))
    for batch in sorted({k[1] for k in decode}):
        ks = [k for k in decode if k[1] == batch]
        xs = [k[2] for k in ks]
        ax.plot(xs, [ours[k]["bytes_per_second"] / 1e9 for k in ks], "o-", label=f"CPU_ATTN B={batch}")
        ax.plot(xs, [ours[k]["bytes_per_second"] * ours[k]["seconds"] / theirs[k] / 1e9 for k in ks], "x--",
                label=f"torch SDPA B={batch}")
    ax.axhline(floor_gbs, color="k", lw=1, label=f"read floor at start-up {floor_gbs:.1f} GB/s")
    ax.scatter([k[2] for k in decode], [ours[k]["matched_floor"] for k in decode], marker="_", s=200,
               color="grey", label="matched floor of each shape (median over rounds)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("KV bytes read / s (GB/s)")
    ax.set_title("decode, bf16, GQA 32/8, head 128")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: the points fill the axes
    fig.tight_layout()
    fig.savefig(os.path.join(docs, "cpu_attn_decode.png"), dpi=110, bbox_inches="tight")

    prefill = sorted(k for k in ours if k[0] == "prefill")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [k[1] for k in prefill]
    ax.plot(xs, [ours[k]["flops"] / 1e9 for k in prefill], "o-", label="CPU_ATTN")
    ax.plot(xs, [ours[k]["flops"] * ours[k]["seconds"] / theirs[k] / 1e9 for k in prefill], "x--",
            label="torch SDPA")
    ax.axhline(peak_gflops, color="k", lw=1, label=f"measured fp32 FMA peak {peak_gflops:.1f} GFLOP/s")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("prompt tokens (causal, one request)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title("prefill, bf16, GQA 32/8, head 128")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(docs, "cpu_attn_prefill.png"), dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path of bench_cpu_attn")
    ap.add_argument("--prefill", default="1024,2048,4096", help="prompt lengths (comma-separated)")
    ap.add_argument("--decode-batches", default="1|4|16|32", help="decode batch sizes (regex alternation)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of every CPU_ATTN shape, shuffled")
    ap.add_argument("--docs", default=os.path.join(os.path.dirname(__file__), "..", "..", "docs"))
    args = ap.parse_args()
    torch = ensure("torch", "torch")
    ensure("matplotlib", "matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threads = os.cpu_count()
    torch.set_num_threads(threads)
    prefill = [int(x) for x in args.prefill.split(",")]
    context, ours = run_ours(args.bench, prefill, args.decode_batches, args.rounds)
    theirs = run_torch(torch, sorted(ours))
    floor_gbs = float(context["floor_read_gbs"])
    peak = float(context["floor_fma_gflops"])
    print(f"\ntorch {torch.__version__}, {threads} threads; floor at start-up: read {floor_gbs:.2f} GB/s, "
          f"fp32 FMA {peak:.1f} GFLOP/s ({context['floor_simd']}); CPU_ATTN: median of {args.rounds} rounds\n")
    print("| shape | CPU_ATTN ms | torch ms | speed-up | CPU_ATTN GB/s | matched floor GB/s (range) "
          "| of matched floor (range) | of start-up floor | CPU_ATTN GFLOP/s | of FMA peak |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in sorted(ours):
        o = ours[key]
        name = f"decode B={key[1]} L={key[2]}" if key[0] == "decode" else f"prefill N={key[1]}"
        matched = floor = "-"
        if "matched_frac" in o:
            lo, hi = o["matched_range"]
            matched = f"{o['matched_frac'] * 100:.0f}% ({lo * 100:.0f}-{hi * 100:.0f}%)"
            if o["contended"] == o["all_rounds"]:
                matched += ", every round contended"
            elif o["contended"]:
                matched += f", {o['contended']} contended round(s) left out"
            floor = f"{o['matched_floor']:.1f} ({o['floor_range'][0]:.1f}-{o['floor_range'][1]:.1f})"
        print(f"| {name} | {o['seconds'] * 1e3:.2f} | {theirs[key] * 1e3:.2f} | {theirs[key] / o['seconds']:.2f}x "
              f"| {o['bytes_per_second'] / 1e9:.2f} | {floor} | {matched} | {o['bw_frac'] * 100:.0f}% "
              f"| {o['flops'] / 1e9:.1f} | {o['peak_frac'] * 100:.0f}% |")
    plot(plt, ours, theirs, floor_gbs, peak, args.docs)


if __name__ == "__main__":
    main()
