// A C entry to the FLASH_ATTN kernels for the Python device benchmark, which
// loads this library with ctypes and calls our kernels on PyTorch tensors in
// the same process as the peers (FlashAttention-2, cuDNN SDPA, FlexAttention).
// It fills the same KernelParams the plugin's forward() fills, minus the
// DLPack validation (the benchmark builds well-formed tensors itself).
#include <cstdint>

#include "device_capability.hpp"
#include "params.hpp"

extern "C" {

/// Runs attention over a paged cache [2, NB, BS, Hkv, D] (contiguous) for a
/// batch described by device int32 arrays; dtype 0 = fp16, 1 = bf16. Returns
/// the CUDA error code of the launch (0 = ok).
__attribute__((visibility("default"))) int attnreg_fa_attention(
    int dtype, int cache_fp8, int num_heads, int num_kv_heads, int head_size, int num_tokens, int num_reqs,
    int max_query_len, int max_seq_len, int block_size, int num_blocks, int max_blocks_per_req, int causal,
    float scale, const void* q, void* out, void* kv_cache, const int* query_start_loc, const int* seq_lens,
    const int* block_table, float* scratch, long long scratch_floats, int* error_flag, int num_sms,
    void* stream) {
  using namespace attnreg::flash_attn;
  KernelParams p;
  p.dtype = dtype == 1 ? Dtype::BFloat16 : Dtype::Float16;
  p.cache_fp8 = cache_fp8 != 0;
  p.head_size = head_size;
  p.num_heads = num_heads;
  p.num_kv_heads = num_kv_heads;
  p.num_tokens = num_tokens;
  p.num_reqs = num_reqs;
  p.max_query_len = max_query_len;
  p.max_seq_len = max_seq_len;
  p.block_size = block_size;
  p.num_blocks = num_blocks;
  p.max_blocks_per_req = max_blocks_per_req;
  p.causal = causal != 0;
  p.scale = scale;
  p.q = q;
  p.q_stride_t = static_cast<std::int64_t>(num_heads) * head_size;
  p.q_stride_h = head_size;
  p.out = out;
  p.o_stride_t = p.q_stride_t;
  p.o_stride_h = head_size;
  const int elem = p.cache_fp8 ? 1 : 2;
  const std::int64_t half = static_cast<std::int64_t>(num_blocks) * block_size * num_kv_heads * head_size;
  p.k_cache = kv_cache;
  p.v_cache = static_cast<char*>(kv_cache) + half * elem;
  p.cache_stride_block = static_cast<std::int64_t>(block_size) * num_kv_heads * head_size;
  p.query_start_loc = query_start_loc;
  p.seq_lens = seq_lens;
  p.block_table = block_table;
  p.bt_stride = max_blocks_per_req;
  p.scratch = scratch;
  p.scratch_floats = scratch_floats;
  p.error_flag = error_flag;
  p.num_sms = num_sms;
  p.compute_capability = current_device_capability();
  p.stream = stream;
  return launch_attention(p);
}

/// The scheduler's decode plan for a batch (for the tables): returns the split
/// count and stores the ring depth in *ring_stages. cache_fp8 as in
/// attnreg_fa_attention (fp8 caches get a plan of their own).
__attribute__((visibility("default"))) int attnreg_fa_decode_plan(int cache_fp8, int num_heads, int num_kv_heads,
                                                                  int head_size, int num_tokens, int num_reqs,
                                                                  int max_query_len, int max_seq_len,
                                                                  long long scratch_floats, int num_sms,
                                                                  int* ring_stages) {
  attnreg::flash_attn::KernelParams p;
  p.cache_fp8 = cache_fp8 != 0;
  p.num_heads = num_heads;
  p.num_kv_heads = num_kv_heads;
  p.head_size = head_size;
  p.num_tokens = num_tokens;
  p.num_reqs = num_reqs;
  p.max_query_len = max_query_len;
  p.max_seq_len = max_seq_len;
  p.scratch_floats = scratch_floats;
  p.num_sms = num_sms;
  p.compute_capability = attnreg::flash_attn::current_device_capability();
  const attnreg::flash_attn::DecodePlan plan = attnreg::flash_attn::plan_decode(p);
  *ring_stages = plan.ring_stages;
  return plan.num_splits;
}

/// Opts the kernels for head_size into their shared memory; call once.
__attribute__((visibility("default"))) int attnreg_fa_prepare(int head_size) {
  return attnreg::flash_attn::prepare_kernels(head_size);
}
}
