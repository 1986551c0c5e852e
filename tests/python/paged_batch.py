"""A small paged-attention batch in numpy and its float64 reference.

The batch mixes a prefill with context, a decode and a fresh prefill, places
blocks in shuffled order with unused blocks between them, and fills the cache
with random earlier context, so a backend that ignores the block table, the
slot mapping or the context gets a different answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Per-dtype tolerances of a backend against the float64 reference.
TOLERANCE = {np.float32: 2e-5, np.float16: 3e-3}


@dataclass
class PagedBatch:
    query: np.ndarray  # [T, H, D]
    key: np.ndarray  # [T, Hkv, D]
    value: np.ndarray
    kv_cache: np.ndarray  # [2, num_blocks, block_size, Hkv, D]
    query_start_loc: np.ndarray  # int32 [R + 1]
    seq_lens: np.ndarray  # int32 [R]
    block_table: np.ndarray  # int32 [R, M]
    slot_mapping: np.ndarray  # int64 [T]
    max_query_len: int
    max_seq_len: int


def make_batch(
    rng: np.random.Generator,
    dtype=np.float32,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    head_size: int = 32,
    block_size: int = 4,
    query_lens: tuple[int, ...] = (3, 1, 5),
    context_lens: tuple[int, ...] = (6, 9, 0),
) -> PagedBatch:
    seq_lens = [q + c for q, c in zip(query_lens, context_lens)]
    blocks_per_req = [-(-s // block_size) for s in seq_lens]
    num_blocks = sum(blocks_per_req) + 3  # spare blocks nobody owns
    order = rng.permutation(num_blocks)
    block_table = np.zeros((len(seq_lens), max(blocks_per_req)), dtype=np.int32)
    taken = 0
    for r, n in enumerate(blocks_per_req):
        block_table[r, :n] = order[taken : taken + n]
        taken += n
    slots = []
    for r, (q, c) in enumerate(zip(query_lens, context_lens)):
        for p in range(c, c + q):
            slots.append(int(block_table[r, p // block_size]) * block_size + p % block_size)
    num_tokens = sum(query_lens)

    def rand(*shape):
        return rng.standard_normal(shape).astype(dtype)

    return PagedBatch(
        query=rand(num_tokens, num_heads, head_size),
        key=rand(num_tokens, num_kv_heads, head_size),
        value=rand(num_tokens, num_kv_heads, head_size),
        kv_cache=rand(2, num_blocks, block_size, num_kv_heads, head_size),
        query_start_loc=np.concatenate([[0], np.cumsum(query_lens)]).astype(np.int32),
        seq_lens=np.array(seq_lens, dtype=np.int32),
        block_table=block_table,
        slot_mapping=np.array(slots, dtype=np.int64),
        max_query_len=max(query_lens),
        max_seq_len=max(seq_lens),
    )


def reference_cache(b: PagedBatch) -> np.ndarray:
    """The cache after the step's keys and values are written (float64)."""
    cache = b.kv_cache.astype(np.float64)
    _, _, block_size, _, _ = cache.shape
    for t, slot in enumerate(b.slot_mapping):
        cache[0, slot // block_size, slot % block_size] = b.key[t]
        cache[1, slot // block_size, slot % block_size] = b.value[t]
    return cache


def reference_output(b: PagedBatch, causal: bool = True) -> np.ndarray:
    """Causal (or not) paged attention with GQA, scale 1/sqrt(D), in float64."""
    cache = reference_cache(b)
    block_size = cache.shape[2]
    num_heads, head_size = b.query.shape[1], b.query.shape[2]
    group = num_heads // cache.shape[3]
    out = np.empty(b.query.shape, dtype=np.float64)
    for r in range(len(b.seq_lens)):
        start, end = int(b.query_start_loc[r]), int(b.query_start_loc[r + 1])
        seq = int(b.seq_lens[r])
        positions = np.arange(seq)
        blocks = b.block_table[r, positions // block_size]
        keys = cache[0, blocks, positions % block_size]  # [seq, Hkv, D]
        values = cache[1, blocks, positions % block_size]
        for j, t in enumerate(range(start, end)):
            p = seq - (end - start) + j
            visible = p + 1 if causal else seq
            for h in range(num_heads):
                q = b.query[t, h].astype(np.float64)
                s = keys[:visible, h // group] @ q / np.sqrt(head_size)
                w = np.exp(s - s.max())
                out[t, h] = (w / w.sum()) @ values[:visible, h // group]
    return out
