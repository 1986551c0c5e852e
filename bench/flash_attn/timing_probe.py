"""How the timing method moves decode figures (decode step 17 of
docs/notes/flash_attn.md): ours and cuDNN at three points, timed (1) after a
256 MB memset, as bench_flash_attn.py once flushed the L2 (leaving dirty
lines), (2) after the memset and a 256 MB read (L2 clean), (3) 20
back-to-back launches per pair of events, (4) a captured CUDA graph of 20
launches. Prints microseconds per call and TB/s.

  python3 bench/flash_attn/timing_probe.py BUNDLE/lib/libattnreg_fa_bench.so
"""
import sys

import torch

sys.path.insert(0, "bench/flash_attn")  # run from the repository root
import bench_flash_attn as bf

ours = bf.Ours(sys.argv[1])
flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
clean = torch.empty(256 << 20, dtype=torch.uint8, device="cuda").fill_(1)

def ev(fn, pre, reps=1, iters=15):
    ts = []
    for i in range(iters + 3):
        pre()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(reps):
            fn()
        e.record(); e.synchronize()
        if i >= 3: ts.append(s.elapsed_time(e) / reps)
    ts.sort(); return ts[len(ts) // 2] * 1000

for b, l in [(64, 1024), (8, 4096), (64, 16384)]:
    batch = bf.DecodeBatch(b, l)
    run = lambda: batch.run(ours)
    cud = lambda: batch.peer("cudnn")
    run(); cud(); torch.cuda.synchronize()
    dirty = lambda: flush.zero_()
    cleanl2 = lambda: (flush.zero_(), clean.max())
    res = {}
    for name, fn in (("ours", run), ("cudnn", cud)):
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(20): fn()
        res[name] = (ev(fn, dirty), ev(fn, cleanl2), ev(fn, lambda: None, reps=20), ev(g.replay, lambda: None, iters=10) / 20)
    nbytes = batch.kv_bytes
    for name, r in res.items():
        print(f"B{b} L{l} {name:6s} us: dirty-flush {r[0]:7.1f}  clean-flush {r[1]:7.1f}  back-to-back {r[2]:7.1f}  graph {r[3]:7.1f}"
              f"   TB/s: {nbytes/r[0]/1e6:.2f} {nbytes/r[1]/1e6:.2f} {nbytes/r[2]/1e6:.2f} {nbytes/r[3]/1e6:.2f}")
    batch = run = cud = res = g = None
