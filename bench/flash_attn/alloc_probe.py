"""Our decode at B64 L1k in a fresh process, after B64 L64k's 17 GB cache was
freed, and after an L4k point, with the block table shuffled and in address
order (decode step 17 of docs/notes/flash_attn.md). Prints TB/s.

  python3 bench/flash_attn/alloc_probe.py BUNDLE/lib/libattnreg_fa_bench.so
"""
import gc
import sys

import torch

sys.path.insert(0, "bench/flash_attn")  # run from the repository root
import bench_flash_attn as bf

ours = bf.Ours(sys.argv[1])
flush = torch.ones(256 << 20, dtype=torch.uint8, device="cuda")
h, hkv, d = 32, 8, 128


def point(b, l, tag):
    kv, bt, kc, vc = bf.paged(b, l, hkv, d, 16, torch.bfloat16)
    del kc, vc
    q = torch.randn(b, h, d, dtype=torch.bfloat16, device="cuda")
    out = torch.empty_like(q)
    qsl = torch.arange(b + 1, dtype=torch.int32, device="cuda")
    sl = torch.full((b,), l, dtype=torch.int32, device="cuda")
    seq = torch.arange(bt.numel(), dtype=torch.int32, device="cuda").view_as(bt)
    nbytes = 2 * b * l * hkv * d * 2
    r = []
    for name, t in (("shuffled", bt), ("in-order", seq)):
        ms = bf.timed(lambda: ours.run(q, out, kv, qsl, sl, t, 1, l, True, hkv), flush, 15)
        r.append(f"{name} {nbytes / ms / 1e9:.2f}")
    print(f"{tag} B{b} L{l}: " + ", ".join(r), flush=True)
    del kv, bt, q, out, seq
    gc.collect()
    torch.cuda.empty_cache()


point(64, 1024, "fresh")
point(64, 65536, "big")
point(64, 1024, "after big")
point(64, 4096, "after")
point(64, 1024, "again")
