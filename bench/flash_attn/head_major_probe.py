"""Would our decode read faster if each cache block held one KV head (the HND
layout vLLM's FlashInfer backend asks for) instead of the 8 KV heads of each
token interleaved in a 2 KB row (NHD, ours)? Decode step 30 of
docs/notes/flash_attn.md.

The kernels read NHD only, so the probe emulates HND: B requests of GQA 32/8
read the same bytes, through the same grid of CTAs and the same split plan, as
8B requests of GQA 4/1, whose blocks hold one head's keys contiguously (4 KB
per 16-token block, or 32 KB with 128-token blocks, the NHD block's size).
Each point is timed in alternation, three rounds, L2 emptied by a read before
each call; cuDNN on contiguous K/V is printed for scale.

  python3 bench/flash_attn/head_major_probe.py BUNDLE/lib/libattnreg_fa_bench.so
"""
import sys

import torch

sys.path.insert(0, "bench/flash_attn")  # run from the repository root
import bench_flash_attn as bf

ours = bf.Ours(sys.argv[1])
flush = torch.ones(256 << 20, dtype=torch.uint8, device="cuda")
for b, l in [(8, 4096), (64, 1024), (64, 4096), (1, 16384), (64, 16384)]:
    layouts = {
        "NHD bs16": bf.DecodeBatch(b, l),
        "HND bs16": bf.DecodeBatch(8 * b, l, h=4, hkv=1),
        "HND bs128": bf.DecodeBatch(8 * b, l, h=4, hkv=1, bs=128),
    }
    rates = {name: [] for name in layouts}
    for _ in range(3):
        for name, batch in layouts.items():
            bf.settle()
            t = bf.timed(lambda: batch.run(ours), flush, 15)
            rates[name].append(batch.kv_bytes / t / 1e9)
    nhd = layouts["NHD bs16"]
    bf.settle()
    t = bf.timed(lambda: nhd.peer("cudnn"), flush, 15)
    row = [f"B{b} L{l}"] + [f"{name} " + "/".join(f"{r:.2f}" for r in rs) for name, rs in rates.items()]
    row.append(f"cudnn {nhd.kv_bytes / t / 1e9:.2f}")
    print(" | ".join(row), flush=True)
    layouts = nhd = None
    torch.cuda.empty_cache()
