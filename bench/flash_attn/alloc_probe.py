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


def point(b, l, tag):
    batch = bf.DecodeBatch(b, l)
    del batch.kc, batch.vc  # the peers' copies are not needed here
    in_order = torch.arange(batch.bt.numel(), dtype=torch.int32, device="cuda").view_as(batch.bt)
    r = []
    for name, t in (("shuffled", batch.bt), ("in-order", in_order)):
        ms = bf.timed(lambda: batch.run(ours, t), flush, 15)
        r.append(f"{name} {batch.kv_bytes / ms / 1e9:.2f}")
    print(f"{tag} B{b} L{l}: " + ", ".join(r), flush=True)
    batch = in_order = t = None
    gc.collect()
    torch.cuda.empty_cache()


point(64, 1024, "fresh")
point(64, 65536, "big")
point(64, 1024, "after big")
point(64, 4096, "after")
point(64, 1024, "again")
