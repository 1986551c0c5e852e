#!/usr/bin/env python3
"""Device benchmark: attnreg's FLASH_ATTN kernels against PyTorch's
FlashAttention-2 and cuDNN SDPA kernels, in one process, on the same inputs,
and for a few decode points FlexAttention over the same paged cache (a block
mask mapped through the same block table).

Our kernels are called through libattnreg_fa_bench.so (bench/flash_attn/capi.cpp)
on PyTorch tensors. Decode reports TB/s (bytes of K, V and Q read over time);
prefill reports TFLOP/s (4*N*N*H*D, halved when causal). Every figure is also
given as a ratio to each peer and to the device's measured copy bandwidth and
bf16 matmul rate. Before timing, each of our outputs is compared with the
peers' on the same inputs (max abs difference printed; over 2e-2 fails);
`--peers check` keeps that comparison but times only ours (the A/B runs of
ab_variants.sh), `--peers off` runs only ours (for ncu).

  python3 bench_flash_attn.py --lib build/lib/libattnreg_fa_bench.so --out DIR
"""
import argparse
import ctypes
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

PEERS = {"fa2": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}
SCRATCH_FLOATS = 16 << 20  # 64 MiB, as the plugin preallocates


def timed(fn, flush, iters):
    """Median milliseconds of fn over iters runs, the L2 emptied of useful and
    of dirty lines before each by reading `flush` (256 MB, written once).
    Writing it instead (a memset) left up to 50 MB of dirty lines whose
    write-back then fell inside the timed region: 9-110 us more per call in
    one probe, by amounts that differed between kernels and runs (decode
    step 17 of docs/notes/flash_attn.md)."""
    times = []
    for i in range(iters + 3):
        flush.max()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        if i >= 3:
            times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


class Ours:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        f = self.lib.attnreg_fa_attention
        f.restype = ctypes.c_int
        f.argtypes = [ctypes.c_int] * 13 + [ctypes.c_float] + [ctypes.c_void_p] * 6 + [
            ctypes.c_void_p, ctypes.c_longlong, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        self.lib.attnreg_fa_decode_plan.restype = ctypes.c_int
        self.lib.attnreg_fa_decode_plan.argtypes = [ctypes.c_int] * 8 + [
            ctypes.c_longlong, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        self.scratch = torch.empty(SCRATCH_FLOATS, dtype=torch.float32, device="cuda")
        self.flag = torch.zeros(1, dtype=torch.int32, device="cuda")
        self.sms = torch.cuda.get_device_properties(0).multi_processor_count
        for d in (64, 96, 128, 256):
            assert self.lib.attnreg_fa_prepare(d) == 0

    def run(self, q, out, kv, qsl, seq_lens, bt, max_q, max_seq, causal, hkv):
        """Attention over the paged cache kv (fp8 e4m3 with unit scales, or
        q's dtype)."""
        t, h, d = q.shape
        fp8 = int(kv.dtype == torch.float8_e4m3fn)
        rc = self.lib.attnreg_fa_attention(
            1 if q.dtype == torch.bfloat16 else 0, fp8, h, hkv, d, t, seq_lens.numel(), max_q, max_seq,
            kv.shape[2], kv.shape[1], bt.shape[1], int(causal), 1.0 / math.sqrt(d), q.data_ptr(),
            out.data_ptr(), kv.data_ptr(), qsl.data_ptr(), seq_lens.data_ptr(), bt.data_ptr(),
            self.scratch.data_ptr(), SCRATCH_FLOATS, self.flag.data_ptr(), self.sms,
            torch.cuda.current_stream().cuda_stream)
        assert rc == 0, f"launch failed with CUDA error {rc}"

    def plan(self, h, hkv, d, t, r, max_q, max_seq, fp8=False):
        """(split count, ring stages) the scheduler picks for a decode batch."""
        stages = ctypes.c_int(0)
        splits = self.lib.attnreg_fa_decode_plan(int(fp8), h, hkv, d, t, r, max_q, max_seq, SCRATCH_FLOATS,
                                                 self.sms, ctypes.byref(stages))
        return splits, stages.value


def peer(name, q, k, v, causal):
    with sdpa_kernel([PEERS[name]]):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=k.shape[1] != q.shape[1])


_flex = None


def flex_paged_decode(q, kv, bt, seq_lens, l, bs):
    """FlexAttention decode over the same paged cache: K and V as
    [1, Hkv, NB*BS, D] views of the cache (no copy), and a block mask whose
    columns are cache pages, mapped through the same block table with
    torch's PagedAttention. Returns a function that runs the attention
    (the mask is built here, outside the timed call)."""
    global _flex
    from torch.nn.attention.experimental._paged_attention import PagedAttention
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    if _flex is None:
        _flex = torch.compile(flex_attention)
    b, h, d = q.shape
    _, nb, _, hkv, _ = kv.shape
    nbpr = bt.shape[1]
    pages = PagedAttention(nb, bs, b, device="cuda")
    pages.page_table[:, :nbpr] = bt.long()
    pages.physical_to_logical.scatter_(
        1, bt.long(), torch.arange(nbpr, device="cuda").expand(b, nbpr).contiguous())
    lens = seq_lens.long()
    logical = create_block_mask(lambda bi, hi, qi, ki: ki < lens[bi], b, None, 1, nbpr * bs, device="cuda",
                                BLOCK_SIZE=(128, bs))
    mask = pages.convert_logical_block_mask(logical, kv_len=lens)
    k = kv[0].view(nb * bs, hkv, d).permute(1, 0, 2).unsqueeze(0)
    v = kv[1].view(nb * bs, hkv, d).permute(1, 0, 2).unsqueeze(0)
    q4 = q.view(b, h, 1, d)
    # Key tiles of one page: the block mask's columns are 16-key pages.
    return lambda: _flex(q4, k, v, block_mask=mask, enable_gqa=True, kernel_options={"BLOCK_N": bs})


def paged(b, l, hkv, d, bs, dtype):
    """A paged cache holding b sequences of l tokens at shuffled blocks, and
    the same K and V gathered contiguously as [b, hkv, l, d] for the peers."""
    nbpr = (l + bs - 1) // bs
    nb = b * nbpr
    kv = torch.empty(2, nb, bs, hkv, d, dtype=dtype, device="cuda").normal_()
    bt = torch.randperm(nb, device="cuda", dtype=torch.int32).view(b, nbpr)
    contig = []
    for i in range(2):
        g = kv[i][bt.long()].reshape(b, nbpr * bs, hkv, d)[:, :l]
        contig.append(g.permute(0, 2, 1, 3).contiguous())
        del g
    return kv, bt, contig[0], contig[1]


class DecodeBatch:
    """One decode point: b requests of l cached tokens and one query token
    each, GQA h / hkv, head d, bf16 queries. The paged cache (block bs,
    shuffled blocks; bf16, or fp8 e4m3 with unit scales when fp8) and its
    contiguous K/V for the peers as paged() makes them (for an fp8 cache, its
    values widened to bf16: the peers read no fp8), the query, a NaN-poisoned
    output and the metadata."""

    def __init__(self, b, l, h=32, hkv=8, d=128, bs=16, fp8=False):
        self.b, self.l, self.h, self.hkv, self.d, self.bs = b, l, h, hkv, d, bs
        self.kv, self.bt, self.kc, self.vc = paged(b, l, hkv, d, bs, torch.bfloat16)
        if fp8:
            self.kv = self.kv.to(torch.float8_e4m3fn)
            self.kc = self.kc.to(torch.float8_e4m3fn).to(torch.bfloat16)
            self.vc = self.vc.to(torch.float8_e4m3fn).to(torch.bfloat16)
        self.q = torch.randn(b, h, d, dtype=torch.bfloat16, device="cuda")
        self.out = torch.full_like(self.q, float("nan"))
        self.qsl = torch.arange(b + 1, dtype=torch.int32, device="cuda")
        self.sl = torch.full((b,), l, dtype=torch.int32, device="cuda")
        self.kv_bytes = 2 * b * l * hkv * d * self.kv.element_size()  # K and V as our kernels read them

    def run(self, ours, block_table=None):
        """Our decode over the batch (through another block table if given)."""
        bt = self.bt if block_table is None else block_table
        ours.run(self.q, self.out, self.kv, self.qsl, self.sl, bt, 1, self.l, True, self.hkv)

    def peer(self, name):
        """The peer's decode over the contiguous K/V; returns [b, h, 1, d]."""
        return peer(name, self.q.view(self.b, self.h, 1, self.d), self.kc, self.vc, False)


def device_rates(flush):
    x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    ms = timed(lambda: y.copy_(x), flush, 10)
    copy_tbs = 2 * x.numel() / ms / 1e9
    a = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    bm = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    ms = timed(lambda: a @ bm, flush, 10)
    mm_tflops = 2 * 8192**3 / ms / 1e9
    x = y = a = bm = None
    settle()
    return copy_tbs, mm_tflops


def settle():
    """Returns the freed buffers of a point to the device, then keeps the GPU
    busy with a spin kernel for about a second. Right after a large point was
    freed the next one ran 12-14% slower for a while (B64 L1k: 2.33 TB/s after
    B64 L64k's 17 GB, 2.68 after a 1 s pause, 2.69 in a fresh process; decode
    step 17 of docs/notes/flash_attn.md), which the first kernel timed, ours,
    absorbed and the peers timed after it did not. A host-side sleep instead
    let the clocks drop (345 MHz idle), and the kernels timed first after it
    sometimes ran 10-25% slow."""
    torch.cuda.empty_cache()
    torch.cuda.synchronize()
    torch.cuda._sleep(2_000_000_000)  # cycles: ~1 s at the H100's 1.98 GHz
    torch.cuda.synchronize()


def check_and_time_peers(row, run_peer, difference, unit, work, flush, args, point):
    """Compares our output with each peer's (unless --peers off): the max abs
    difference goes into row and over 2e-2 fails; with --peers on each peer is
    then timed, its rate (`work` per second, in units of 1e9: TB/s for bytes,
    TFLOP/s for FLOPs) and our speed-up in time going into row too. A peer
    that cannot run this point (a RuntimeError) is recorded, not raised.
    run_peer(name) returns the peer's output; difference(ref) is ours minus
    it, as a tensor."""
    for name in PEERS if args.peers != "off" else ():
        try:
            ref = run_peer(name)
            row[f"maxdiff_{name}"] = difference(ref).abs().max().item()
            assert row[f"maxdiff_{name}"] < 2e-2, f"{point}: ours differs from {name} by {row[f'maxdiff_{name}']:.3g}"
            if args.peers == "on":
                ms = timed(lambda: run_peer(name), flush, args.iters)
                row[f"{name}_{unit}"] = work / ms / 1e9
                row[f"ours_over_{name}"] = ms / row["ours_ms"]  # speed-up in time (the rate ratio)
        except RuntimeError as e:
            row[f"{name}_error"] = str(e).splitlines()[0][:120]


def decode_sweep(ours, flush, copy_tbs, args):
    h, hkv, d, bs = 32, 8, 128, 16
    rows = []
    # The clocks up before the first point too: without the device rates
    # first (--peers off), the first point of a process ran at idle clocks
    # (B1 L1k read 0.05 TB/s instead of 0.36).
    settle()
    for b in args.batches:
        for l in args.lens:
            kv_bytes = 2 * b * l * hkv * d * 2  # bf16, the largest this point allocates
            if kv_bytes > args.max_cache_gb * 1e9:
                rows.append({"B": b, "L": l, "skipped": f"K+V {kv_bytes / 1e9:.0f} GB > {args.max_cache_gb} GB"})
                continue
            torch.manual_seed(b * 100003 + l)
            batch = DecodeBatch(b, l, h, hkv, d, bs, fp8=args.cache == "fp8")
            out = batch.out
            run = lambda: batch.run(ours)
            run()
            torch.cuda.synchronize()
            assert ours.flag.item() == 0
            nbytes = batch.kv_bytes + batch.q.numel() * 2
            peer_bytes = kv_bytes + batch.q.numel() * 2  # the peers read bf16 K/V
            splits, ring = ours.plan(h, hkv, d, b, b, 1, l, fp8=args.cache == "fp8")
            row = {"B": b, "L": l, "cache": args.cache, "splits": splits, "ring_stages": ring}
            row["ours_ms"] = timed(run, flush, args.iters)
            row["ours_tbs"] = nbytes / row["ours_ms"] / 1e9
            row["ours_vs_copy"] = row["ours_tbs"] / copy_tbs
            check_and_time_peers(row, batch.peer, lambda ref: out.float() - ref.view(b, h, d).float(),
                                 "tbs", peer_bytes, flush, args, f"decode B{b} L{l}")
            flex = None  # holds views of the cache; freed with it below
            if args.peers == "on" and args.cache == "bf16" and f"{b}x{l}" in args.flex_points:
                try:
                    flex = flex_paged_decode(batch.q, batch.kv, batch.bt, batch.sl, l, bs)
                    ref = flex()
                    row["maxdiff_flex"] = (out.float() - ref.view(b, h, d).float()).abs().max().item()
                    assert row["maxdiff_flex"] < 2e-2, f"decode B{b} L{l}: ours differs from FlexAttention"
                    ms = timed(flex, flush, args.iters)
                    row["flex_tbs"] = nbytes / ms / 1e9
                    row["ours_over_flex"] = row["ours_tbs"] / row["flex_tbs"]
                except Exception as e:  # a compile or lowering failure is a result to report, not a crash
                    row["flex_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            rows.append(row)
            print(json.dumps(row), flush=True)
            batch = out = run = flex = None
            settle()
    return rows


def prefill_sweep(ours, flush, mm_tflops, args):
    rows = []
    settle()  # as in decode_sweep
    bs = 16
    for d, h in ((128, 16), (64, 32)):
        if d not in args.prefill_d:
            continue
        for n in args.prefill_n:
            for causal in (False, True):
                torch.manual_seed(n + d)
                kv, bt, kc, vc = paged(1, n, h, d, bs, torch.bfloat16)
                q = torch.randn(n, h, d, dtype=torch.bfloat16, device="cuda")
                out = torch.full_like(q, float("nan"))
                qsl = torch.tensor([0, n], dtype=torch.int32, device="cuda")
                sl = torch.tensor([n], dtype=torch.int32, device="cuda")
                run = lambda: ours.run(q, out, kv, qsl, sl, bt, n, n, causal, h)
                run()
                torch.cuda.synchronize()
                assert ours.flag.item() == 0
                qp = q.permute(1, 0, 2).unsqueeze(0)
                flops = 4 * n * n * h * d / (2 if causal else 1)
                row = {"D": d, "H": h, "N": n, "causal": causal}
                row["ours_ms"] = timed(run, flush, args.iters)
                row["ours_tflops"] = flops / row["ours_ms"] / 1e9
                row["ours_vs_matmul"] = row["ours_tflops"] / mm_tflops
                check_and_time_peers(row, lambda name: peer(name, qp, kc, vc, causal),
                                     lambda ref: out.float() - ref[0].permute(1, 0, 2).float(),
                                     "tflops", flops, flush, args, f"prefill {row}")
                rows.append(row)
                print(json.dumps(row), flush=True)
                kv = bt = kc = vc = None
                settle()
    return rows


def plots(result, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    dec = [r for r in result["decode"] if "ours_tbs" in r]
    if dec:
        decode_plot(plt, dec, result["copy_tbs"], out_dir)
    if result["prefill"]:
        prefill_plot(plt, result["prefill"], out_dir)


def decode_plot(plt, dec, copy_tbs, out_dir):
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), sharey=True)
    for ax, b in zip(axes, (1, 8, 64, 256)):
        rs = [r for r in dec if r["B"] == b]
        ls = [r["L"] for r in rs]
        for key, label in (("ours_tbs", "attnreg"), ("fa2_tbs", "FA2 (SDPA)"), ("cudnn_tbs", "cuDNN (SDPA)")):
            ax.plot(ls, [r.get(key, float("nan")) for r in rs], marker="o", label=label)
        ax.axhline(copy_tbs, color="gray", ls="--", label="copy")
        ax.set_xscale("log", base=2)
        ax.set_title(f"decode B={b}" + (" (fp8 cache)" if rs and rs[0].get("cache") == "fp8" else ""))
        ax.set_xlabel("context L")
    axes[0].set_ylabel("TB/s")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "flash_attn_decode.png"), dpi=90)


def prefill_plot(plt, pre, out_dir):
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), sharey=True)
    for ax, (d, causal) in zip(axes, ((128, False), (128, True), (64, False), (64, True))):
        rs = [r for r in pre if r["D"] == d and r["causal"] == causal]
        ns = [r["N"] for r in rs]
        for key, label in (("ours_tflops", "attnreg"), ("fa2_tflops", "FA2 (SDPA)"), ("cudnn_tflops", "cuDNN (SDPA)")):
            ax.plot(ns, [r.get(key, float("nan")) for r in rs], marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_title(f"prefill D={d} {'causal' if causal else 'full'}")
        ax.set_xlabel("tokens N")
    axes[0].set_ylabel("TFLOP/s")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "flash_attn_prefill.png"), dpi=90)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True, help="path of libattnreg_fa_bench.so")
    ap.add_argument("--out", default=".", help="folder for bench.json and the plots")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--max-cache-gb", type=float, default=20.0, help="skip decode points with more K+V than this")
    ap.add_argument("--only", choices=("decode", "prefill", "all"), default="all")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64, 256], help="decode batch sizes")
    ap.add_argument("--lens", type=int, nargs="+", default=[1024, 4096, 16384, 65536], help="decode contexts")
    ap.add_argument("--prefill-n", type=int, nargs="+", default=[4096, 8192, 16384], help="prefill tokens")
    ap.add_argument("--prefill-d", type=int, nargs="+", default=[128, 64], help="prefill head sizes")
    ap.add_argument("--peers", choices=("on", "check", "off"), default="on",
                    help="check: our outputs compared with the peers', only ours timed (for A/B runs); "
                    "off: only our kernels run (for ncu)")
    ap.add_argument("--cache", choices=("bf16", "fp8"), default="bf16",
                    help="decode KV cache type (fp8: e4m3, unit scales; the peers read the same values in bf16)")
    ap.add_argument("--flex-points", nargs="*", default=["1x16384", "8x4096", "64x16384"],
                    help="decode points BxL that also run FlexAttention over the paged cache (each compiles once)")
    args = ap.parse_args()
    # Made before the sweep so that an unusable path fails in a second, not after minutes of timing.
    os.makedirs(args.out, exist_ok=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    ours = Ours(args.lib)
    flush = torch.ones(256 << 20, dtype=torch.uint8, device="cuda")
    copy_tbs, mm_tflops = device_rates(flush) if args.peers == "on" else (float("nan"), float("nan"))
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "copy_tbs": copy_tbs,
              "bf16_matmul_tflops": mm_tflops}
    print(json.dumps(result), flush=True)
    result["decode"] = decode_sweep(ours, flush, copy_tbs, args) if args.only in ("decode", "all") else []
    result["prefill"] = prefill_sweep(ours, flush, mm_tflops, args) if args.only in ("prefill", "all") else []
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(result, f, indent=1)
    if args.peers == "on":  # the plots compare with the peers; a sweep that ran only one kind plots that one
        plots(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
