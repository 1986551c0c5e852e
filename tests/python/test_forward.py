"""forward / reshape_and_cache on DLPack tensors (numpy, torch where installed).

The C++ CPU backend (CPU_ATTN, resolved through the registry) runs on fresh
random batches against the float64 reference of paged_batch.py, with the
output poisoned with NaN first so an unwritten element fails. Results are
written into the caller's own arrays (no copy in or out); every bad tensor is
refused with ValueError carrying the C++ message, before anything is written.
"""

from __future__ import annotations

import numpy as np
import pytest

import attnreg
from attnreg.registry import AttentionBackendEnum
from paged_batch import TOLERANCE, make_batch, reference_cache, reference_output


@pytest.fixture(scope="module")
def cpu_backend():
    return AttentionBackendEnum.CPU_ATTN.get_class()


def metadata_of(b, causal=True):
    return attnreg.AttentionMetadata(
        query_start_loc=b.query_start_loc,
        seq_lens=b.seq_lens,
        block_table=b.block_table,
        slot_mapping=b.slot_mapping,
        max_query_len=b.max_query_len,
        max_seq_len=b.max_seq_len,
        causal=causal,
    )


def impl_for(backend, b):
    return backend.make_impl(num_heads=b.query.shape[1], head_size=b.query.shape[2], num_kv_heads=b.key.shape[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("causal", [True, False])
def test_forward_numpy_matches_float64_reference(cpu_backend, dtype, causal):
    rng = np.random.default_rng()
    b = make_batch(rng, dtype)
    output = np.full(b.query.shape, np.nan, dtype=dtype)
    cache = b.kv_cache.copy()
    expected_cache = reference_cache(b)
    impl_for(cpu_backend, b).forward(b.query, b.key, b.value, cache, metadata_of(b, causal), output)
    np.testing.assert_array_equal(cache.astype(np.float64), expected_cache)
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(output.astype(np.float64), reference_output(b, causal), rtol=tol, atol=tol)


def test_forward_accepts_strided_views_without_copy(cpu_backend):
    rng = np.random.default_rng()
    b = make_batch(rng)
    wide_query = np.zeros(b.query.shape[:2] + (2 * b.query.shape[2],), dtype=np.float32)
    wide_query[:, :, : b.query.shape[2]] = np.nan  # never read: the view skips these
    query_view = wide_query[:, :, b.query.shape[2] :]
    query_view[...] = b.query
    wide_out = np.full(b.query.shape[:2] + (2 * b.query.shape[2],), np.nan, dtype=np.float32)
    out_view = wide_out[:, :, : b.query.shape[2]]
    expected = reference_output(b)
    impl_for(cpu_backend, b).forward(query_view, b.key, b.value, b.kv_cache, metadata_of(b), out_view)
    np.testing.assert_allclose(out_view, expected, rtol=2e-5, atol=2e-5)
    assert np.isnan(wide_out[:, :, b.query.shape[2] :]).all()  # only the view was written


def test_reshape_and_cache_not_provided_maps_to_not_implemented_error(cpu_backend):
    # CPU_ATTN writes the cache inside forward only; the contract's default
    # reaches Python as its own NotImplementedError, with nothing written.
    rng = np.random.default_rng()
    b = make_batch(rng)
    before = b.kv_cache.copy()
    with pytest.raises(NotImplementedError) as e:
        impl_for(cpu_backend, b).reshape_and_cache(b.key, b.value, b.kv_cache, b.slot_mapping)
    assert str(e.value) == "reshape_and_cache is not implemented by this backend's AttentionImpl"
    np.testing.assert_array_equal(b.kv_cache, before)


@pytest.mark.parametrize("dtype_name, tol", [("float32", 2e-5), ("bfloat16", 2e-2)])
def test_forward_torch_matches_reference(cpu_backend, dtype_name, tol):
    torch = pytest.importorskip("torch", reason="torch is not installed; the numpy tests cover DLPack")
    dtype = getattr(torch, dtype_name)
    rng = np.random.default_rng()
    b = make_batch(rng)
    t = {}
    for name in ("query", "key", "value", "kv_cache"):
        t[name] = torch.from_numpy(getattr(b, name)).to(dtype)
        setattr(b, name, t[name].float().numpy())  # the reference sees the rounded inputs
    expected = reference_output(b)
    output = torch.full(b.query.shape, float("nan"), dtype=dtype)
    md = attnreg.AttentionMetadata(
        query_start_loc=torch.from_numpy(b.query_start_loc),
        seq_lens=torch.from_numpy(b.seq_lens),
        block_table=torch.from_numpy(b.block_table),
        slot_mapping=torch.from_numpy(b.slot_mapping),
        max_query_len=b.max_query_len,
        max_seq_len=b.max_seq_len,
    )
    impl_for(cpu_backend, b).forward(t["query"], t["key"], t["value"], t["kv_cache"], md, output)
    np.testing.assert_allclose(output.float().numpy(), expected, rtol=tol, atol=tol)
    # The cache tensor itself was written (no copy): it now holds this step's keys.
    slot = int(b.slot_mapping[0])
    block_size = b.kv_cache.shape[2]
    assert torch.equal(t["kv_cache"][0, slot // block_size, slot % block_size], t["key"][0])


def _bad_inputs(b):
    """(description, forward arguments with one thing wrong, expected message start)."""
    T, H, D = b.query.shape
    return [
        (
            "float64 query",
            dict(query=b.query.astype(np.float64)),
            "query: expected dtype bfloat16, float16 or float32",
        ),
        ("query of the wrong rank", dict(query=b.query.reshape(T, H * D)), "query: expected 3 dimensions"),
        ("key with another dtype", dict(key=b.key.astype(np.float16)), "key: expected dtype float32"),
        ("slot_mapping int32", dict(slot_mapping=b.slot_mapping.astype(np.int32)), "metadata.slot_mapping"),
        ("cache of another dtype", dict(kv_cache=b.kv_cache.astype(np.float16)), "kv_cache: expected dtype"),
    ]


@pytest.mark.parametrize("case", range(5))
def test_bad_tensor_is_refused_with_the_cpp_message_and_nothing_written(cpu_backend, case):
    rng = np.random.default_rng()
    b = make_batch(rng)
    what, change, message = _bad_inputs(b)[case]
    args = dict(query=b.query, key=b.key, value=b.value, kv_cache=b.kv_cache, slot_mapping=b.slot_mapping)
    args.update(change)
    md = metadata_of(b)
    if "slot_mapping" in change:
        md = attnreg.AttentionMetadata(
            query_start_loc=b.query_start_loc,
            seq_lens=b.seq_lens,
            block_table=b.block_table,
            slot_mapping=args["slot_mapping"],
            max_query_len=b.max_query_len,
            max_seq_len=b.max_seq_len,
        )
    output = np.full(b.query.shape, np.nan, dtype=np.float32)
    cache_before = args["kv_cache"].copy()
    with pytest.raises(ValueError) as e:
        impl_for(cpu_backend, b).forward(args["query"], args["key"], args["value"], args["kv_cache"], md, output)
    assert str(e.value).startswith(message), what
    assert np.isnan(output).all()
    np.testing.assert_array_equal(args["kv_cache"], cache_before)


def test_output_whose_elements_share_memory_is_refused(cpu_backend):
    # A view whose head rows overlap (stride shorter than a row): written
    # through, one head would overwrite the next.
    rng = np.random.default_rng()
    b = make_batch(rng)
    t, h, d = b.query.shape
    buf = np.full(t * h * d, np.nan, dtype=np.float32)
    output = np.lib.stride_tricks.as_strided(buf, shape=(t, h, d), strides=(h * d * 4, d // 2 * 4, 4))
    with pytest.raises(ValueError) as e:
        impl_for(cpu_backend, b).forward(b.query, b.key, b.value, b.kv_cache, metadata_of(b), output)
    assert str(e.value).startswith(f"output: strides [{h * d}, {d // 2}, 1] let elements share memory")
    assert np.isnan(buf).all()


def test_key_inside_the_cache_is_refused(cpu_backend):
    # forward writes this step's keys into the cache; a key that lives in
    # the cache would change under it.
    rng = np.random.default_rng()
    b = make_batch(rng)
    t, hkv, d = b.key.shape
    key_in_cache = b.kv_cache.reshape(-1, hkv, d)[:t]
    key_in_cache[...] = b.key
    cache_before = b.kv_cache.copy()
    output = np.full(b.query.shape, np.nan, dtype=np.float32)
    with pytest.raises(ValueError) as e:
        impl_for(cpu_backend, b).forward(b.query, key_in_cache, b.value, b.kv_cache, metadata_of(b), output)
    assert str(e.value) == (
        "kv_cache: overlaps key in memory; expected a separate buffer "
        "(forward writes the cache while it reads the others)"
    )
    assert np.isnan(output).all()
    np.testing.assert_array_equal(b.kv_cache, cache_before)


def test_read_only_output_is_refused(cpu_backend):
    rng = np.random.default_rng()
    b = make_batch(rng)
    output = np.zeros(b.query.shape, dtype=np.float32)
    output.flags.writeable = False
    with pytest.raises(TypeError, match="incompatible function arguments"):
        impl_for(cpu_backend, b).forward(b.query, b.key, b.value, b.kv_cache, metadata_of(b), output)


def test_non_tensor_argument_is_refused(cpu_backend):
    rng = np.random.default_rng()
    b = make_batch(rng)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        impl_for(cpu_backend, b).forward([1.0], b.key, b.value, b.kv_cache, metadata_of(b), b.query)


def test_tensor_on_another_device_is_refused(cpu_backend):
    from fake_device_tensor import FakeCudaTensor

    rng = np.random.default_rng()
    b = make_batch(rng)
    query = FakeCudaTensor(b.query)
    output = np.full(b.query.shape, np.nan, dtype=np.float32)
    with pytest.raises(ValueError) as e:
        impl_for(cpu_backend, b).forward(query, b.key, b.value, b.kv_cache, metadata_of(b), output)
    assert str(e.value) == "query: expected a cpu tensor (kDLCPU or kDLCUDAHost), got cuda:0"
    assert np.isnan(output).all()


def test_forward_from_several_threads(cpu_backend):
    # forward releases the GIL; each thread runs its own impl on its own batch.
    import threading

    rng = np.random.default_rng()
    batches = [make_batch(np.random.default_rng(rng.integers(1 << 32))) for _ in range(4)]
    outputs = [np.full(b.query.shape, np.nan, dtype=np.float32) for b in batches]
    expected = [reference_output(b) for b in batches]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            b = batches[i]
            for _ in range(5):
                impl_for(cpu_backend, b).forward(b.query, b.key, b.value, b.kv_cache.copy(), metadata_of(b), outputs[i])
        except BaseException as e:  # reported below, with the thread's index
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for out, ref in zip(outputs, expected):
        np.testing.assert_allclose(out, ref, rtol=2e-5, atol=2e-5)
