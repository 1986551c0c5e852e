#!/usr/bin/env python3
"""Turns bench_flash_attn.py's bench.json into the markdown tables of
docs/benchmarks/cuda.md:  python3 tables.py bench.json"""
import json
import sys


def fmt(x, digits=2):
    return "n/a" if x is None else f"{x:.{digits}f}"


def main(path):
    r = json.load(open(path))
    print(f"Device: {r['device']}, torch {r['torch']}; measured copy {r['copy_tbs']:.2f} TB/s (read+write), "
          f"bf16 matmul 8192^3 {r['bf16_matmul_tflops']:.0f} TFLOP/s.\n")
    print("Decode, paged (ours: block 16, shuffled blocks), GQA 32/8, head 128, bf16, one query per request. "
          "TB/s = bytes of K, V and Q over time.\n")
    print("| B | L | splits (ring stages) | attnreg TB/s | % of copy | FA2 TB/s | cuDNN TB/s | flex (paged) TB/s | attnreg/FA2 | "
          "attnreg/cuDNN | attnreg/flex |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for d in r["decode"]:
        if "skipped" in d:
            print(f"| {d['B']} | {d['L']} | - | skipped: {d['skipped']} | | | | | | | |")
            continue
        flex = "error" if "flex_error" in d else fmt(d.get("flex_tbs"))
        plan = f"{d['splits']} ({d['ring_stages']})" if "ring_stages" in d else str(d["splits"])
        print(f"| {d['B']} | {d['L']} | {plan} | {fmt(d['ours_tbs'])} | {100 * d['ours_vs_copy']:.0f}% | "
              f"{fmt(d.get('fa2_tbs'))} | {fmt(d.get('cudnn_tbs'))} | {flex} | {fmt(d.get('ours_over_fa2'))} | "
              f"{fmt(d.get('ours_over_cudnn'))} | {fmt(d.get('ours_over_flex'))} |")
    for d in r["decode"]:
        if "flex_error" in d:
            print(f"\nFlexAttention at B{d['B']} L{d['L']}: {d['flex_error']}")
    print("\nPrefill, one sequence of N tokens (ours over a paged cache, block 16), bf16. "
          "TFLOP/s = 4*N*N*H*D (halved when causal) over time.\n")
    print("| D | H | N | causal | attnreg TFLOP/s | % of matmul | FA2 TFLOP/s | cuDNN TFLOP/s | attnreg/FA2 | attnreg/cuDNN |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for p in r["prefill"]:
        print(f"| {p['D']} | {p['H']} | {p['N']} | {'yes' if p['causal'] else 'no'} | {fmt(p['ours_tflops'], 0)} | "
              f"{100 * p['ours_vs_matmul']:.0f}% | {fmt(p.get('fa2_tflops'), 0)} | {fmt(p.get('cudnn_tflops'), 0)} | "
              f"{fmt(p.get('ours_over_fa2'))} | {fmt(p.get('ours_over_cudnn'))} |")


if __name__ == "__main__":
    main(sys.argv[1])
