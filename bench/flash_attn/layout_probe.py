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
    h, hkv, d = 32, 8, 128
    kv, bt, kc, vc = bf.paged(b, l, hkv, d, 16, torch.bfloat16)
    ktm = kc.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3)  # token-major storage, same logical tensor
    vtm = vc.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3)
    q = torch.randn(b, h, d, dtype=torch.bfloat16, device="cuda")
    out = torch.empty_like(q)
    qsl = torch.arange(b + 1, dtype=torch.int32, device="cuda")
    sl = torch.full((b,), l, dtype=torch.int32, device="cuda")
    qp = q.view(b, h, 1, d)
    nbytes = 2 * b * l * hkv * d * 2
    row = [f"B{b} L{l}"]
    t = bf.timed(lambda: ours.run(q, out, kv, qsl, sl, bt, 1, l, True, hkv), flush, 15)
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
    del kv, bt, kc, vc, ktm, vtm
