#!/usr/bin/env python3
"""A/B of bench_cpu_attn binaries in alternated rounds, decode against matched floors.

Each round runs every binary once on the same shapes (the order of the
binaries reverses every round, so neither always runs first); each decode
shape reports its time and its fraction of the matched floor (the read
bandwidth measured right before and after it, see bench_cpu_attn.cpp). The
summary gives, per shape and binary, the median and minimum time, the median
matched fraction, and in how many rounds each binary after the first beat the
first one. The VM's bandwidth moves with its neighbours between rounds, so
compare binaries within a round, never whole sweeps run at different times.
Rounds whose process CPU time is below 90% of threads x wall time shared a
core with another process and are flagged; rerun rather than read them.

    python3 bench/cpu_attn/ab_rounds.py --rounds 5 --filter 'BM_Decode/(4/16384|32/4096)/' OLD NEW
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from statistics import median


def run_once(binary, pattern, threads):
    """{shape name: (ms, matched fraction, contended)} of one run of binary."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    subprocess.run([binary, f"--benchmark_filter={pattern}", f"--benchmark_out={out}",
                    "--benchmark_out_format=json"], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    with open(out) as f:
        data = json.load(f)
    os.unlink(out)
    scale = {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}
    return {b["run_name"].split("/min_time")[0]: (b["real_time"] * scale[b["time_unit"]], b.get("matched_frac"),
                                                  b["cpu_time"] < 0.9 * threads * b["real_time"])
            for b in data["benchmarks"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="+", help="bench_cpu_attn binaries; the first is the baseline")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--filter", default="BM_Decode/(1/4096|4/16384|32/4096)/")
    ap.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS")
    args = ap.parse_args()
    results = {}  # (shape, binary index) -> [(ms, matched)] in round order
    for r in range(args.rounds):
        order = list(range(len(args.binaries)))
        if r % 2:
            order.reverse()
        load = open("/proc/loadavg").read().split()[0]
        for i in order:
            for shape, value in run_once(args.binaries[i], args.filter, args.threads).items():
                results.setdefault((shape, i), []).append(value)
                frac = f" {value[1] * 100:.0f}%" if value[1] is not None else ""
                flag = " (contended: CPU time below 90% of threads x wall)" if value[2] else ""
                print(f"round {r} load {load} [{i}] {shape}: {value[0]:.3f} ms{frac}{flag}", flush=True)
    print("\nshape, binary: median ms / min ms, median of matched floor, rounds faster than [0]")
    for shape in sorted({s for s, _ in results}):
        base = [v[0] for v in results[(shape, 0)]]
        for i, binary in enumerate(args.binaries):
            values = results[(shape, i)]
            ms = [v[0] for v in values]
            fracs = [v[1] for v in values if v[1] is not None]
            frac = f"  {median(fracs) * 100:.0f}%" if fracs else ""
            wins = "" if i == 0 else f"  faster in {sum(a < b for a, b in zip(ms, base))} of {len(ms)}"
            contended = sum(v[2] for v in values)
            note = f"  ({contended} contended)" if contended else ""
            print(f"{shape:>24} [{i}] {binary}: {median(ms):.3f} / {min(ms):.3f} ms{frac}{wins}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
