"""Does cuDNN's / FA2's decode lose speed on the token-major layout our paged
cache has (8 KV heads interleaved in each 2 KB token row)? Same data, K/V as
[B, Hkv, L, D] contiguous (head-major, as the bench gives the peers) and as a
strided view of [B, L, Hkv, D] (token-major). L2 emptied by a read before each.
Decode step 17 of docs/notes/flash_attn.md.

  python3 bench/flash_attn/layout_probe.py BUNDLE/lib/libattnreg_fa_bench.so
"""
import sys

import torch

sys.path.insert(0, "bench/flash_attn")  # run from the repository root
import bench_flash_attn as bf

ours = bf.Ours(sys.argv[1])
flush = torch.ones(256 << 20, dtype=torch.uint8, device="cuda")
for b, l in [(64, 1024), (8, 4096), (64, 4096), (64, 16384)]:
    batch = bf.DecodeBatch(b, l)
    kc, vc = batch.kc, batch.vc
    ktm = kc.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3)  # token-major storage, same logical tensor
    vtm = vc.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3)
    qp = batch.q.view(b, batch.h, 1, batch.d)
    nbytes = batch.kv_bytes
    row = [f"B{b} L{l}"]
    t = bf.timed(lambda: batch.run(ours), flush, 15)
    row.append(f"ours(paged) {nbytes / t / 1e9:.2f}")
    for name in ("cudnn", "fa2"):
        for lay, (k, v) in (("head-major", (kc, vc)), ("token-major", (ktm, vtm))):
            try:
                bf.peer(name, qp, k, v, False)  # a refused layout fails here, before timing
                t = bf.timed(lambda: bf.peer(name, qp, k, v, False), flush, 15)
                row.append(f"{name} {lay} {nbytes / t / 1e9:.2f}")
            except RuntimeError as e:
                row.append(f"{name} {lay} error {str(e)[:40]}")
    print(" | ".join(row), flush=True)
    batch = kc = vc = ktm = vtm = qp = k = v = None
