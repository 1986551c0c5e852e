#include "flash_attn_impl.hpp"

#include <cuda_runtime.h>
#include <fmt/format.h>

#include <attnreg/errors.hpp>
#include <attnreg/forward_args.hpp>
#include <attnreg/tensor.hpp>
#include <cmath>
#include <vector>

#include "tensor_checks.hpp"

namespace attnreg::flash_attn {
namespace {

constexpr DLDataType kInt32{kDLInt, 32, 1};
constexpr DLDataType kInt64{kDLInt, 64, 1};
constexpr DLDataType kUInt8{kDLUInt, 8, 1};
constexpr DLDataType kFloat16{kDLFloat, 16, 1};
constexpr DLDataType kBFloat16{kDLBfloat, 16, 1};

void throw_cuda(const char* what, int code) {
  throw Error(fmt::format("FLASH_ATTN: {} failed with {}", what, cuda_error_text(code)));
}

Dtype model_dtype(const DLTensor& query) {
  if (query.dtype.code == kDLBfloat && query.dtype.bits == 16 && query.dtype.lanes == 1)
    return Dtype::BFloat16;
  if (query.dtype.code == kDLFloat && query.dtype.bits == 16 && query.dtype.lanes == 1) return Dtype::Float16;
  throw ValueError(fmt::format("query must have dtype bfloat16 or float16, got {}", dtype_name(query.dtype)));
}

const DLTensor& required(const DLTensor* t, const char* name) {
  if (t == nullptr) throw ValueError(fmt::format("metadata.{} must be given (got null)", name));
  return *t;
}

}  // namespace

FlashAttentionImpl::FlashAttentionImpl(const AttentionLayerParams& params, const CudaDevice& device)
    : params_(params), device_(device) {
  if (params_.scale == 0.0f) params_.scale = 1.0f / std::sqrt(static_cast<float>(params_.head_size));
  if (int rc = cudaMalloc(&scratch_, kScratchBytes); rc != 0)
    throw_cuda("cudaMalloc of the split-KV scratch", rc);
  if (int rc = cudaHostAlloc(&error_flag_host_, sizeof(int), cudaHostAllocMapped); rc != 0)
    throw_cuda("cudaHostAlloc of the error flag", rc);
  *error_flag_host_ = 0;
  if (int rc = cudaHostGetDevicePointer(&error_flag_device_, error_flag_host_, 0); rc != 0)
    throw_cuda("cudaHostGetDevicePointer", rc);
  if (params_.sinks != nullptr) {
    const std::size_t bytes = sizeof(float) * params_.num_heads;
    if (int rc = cudaMalloc(&sinks_, bytes); rc != 0) throw_cuda("cudaMalloc of the sinks", rc);
    if (int rc = cudaMemcpy(sinks_, params_.sinks, bytes, cudaMemcpyHostToDevice); rc != 0)
      throw_cuda("cudaMemcpy of the sinks", rc);
  }
  if (int rc = prepare_kernels(params_.head_size); rc != 0) throw_cuda("cudaFuncSetAttribute", rc);
}

FlashAttentionImpl::~FlashAttentionImpl() {
  cudaFree(scratch_);
  cudaFree(sinks_);
  cudaFreeHost(error_flag_host_);
}

void FlashAttentionImpl::raise_pending_device_error() {
  const int flags = *static_cast<volatile int*>(error_flag_host_);
  if (flags == 0) return;
  *static_cast<volatile int*>(error_flag_host_) = 0;
  std::vector<std::string> what;
  if (flags & 1)
    what.push_back(
        fmt::format("a block_table entry was outside [0, num_blocks) or a request needed more "
                    "than max_blocks_per_req blocks"));
  if (flags & 2) what.push_back("a slot_mapping entry was past the end of the KV cache");
  if (flags & 4)
    what.push_back("a request had seq_lens < its query length or query_start_loc outside [0, num_tokens]");
  if (flags & 8) what.push_back("a request's query length exceeded metadata.max_query_len");
  throw ValueError(
      fmt::format("FLASH_ATTN: an earlier launch met out-of-range device metadata ({}); the rows it "
                  "affected were not computed. Fix the metadata and run again",
                  fmt::join(what, "; ")));
}

void FlashAttentionImpl::describe_cache(const DLTensor& kv_cache, DLDataType model, int* block_size,
                                        int* num_blocks, void** k_cache, void** v_cache,
                                        std::int64_t* stride_block) const {
  const bool fp8 = params_.kv_cache_dtype == "fp8_e4m3";
  check_on_device("kv_cache", kv_cache, device_.ordinal);
  check_dtype("kv_cache", kv_cache, fp8 ? kUInt8 : model);
  const auto shape = check_shape("kv_cache", kv_cache, {2, -1, -1, params_.num_kv_heads, params_.head_size});
  if (shape[2] <= 0 || shape[2] % 16 != 0)
    throw ValueError(fmt::format("kv_cache block size must be a positive multiple of 16, got {}", shape[2]));
  check_compact_from("kv_cache", kv_cache, 2);
  check_vector_aligned("kv_cache", kv_cache);
  tensor::expect_no_internal_overlap(kv_cache, "kv_cache");  // blocks or halves that alias
  *block_size = static_cast<int>(shape[2]);
  *num_blocks = static_cast<int>(shape[1]);
  const int elem = fp8 ? 1 : 2;
  *k_cache = data_of(kv_cache);
  *v_cache = static_cast<char*>(data_of(kv_cache)) + stride_of(kv_cache, 0) * elem;
  *stride_block = stride_of(kv_cache, 1);
}

CacheWriteParams FlashAttentionImpl::describe_cache_write(const DLTensor& key, const DLTensor& value,
                                                          const DLTensor& kv_cache,
                                                          const DLTensor& slot_mapping, void* stream) const {
  CacheWriteParams w;
  w.dtype = model_dtype(key);
  const DLDataType model = key.dtype;
  w.cache_fp8 = params_.kv_cache_dtype == "fp8_e4m3";
  for (auto [name, t] : {std::pair{"key", &key}, std::pair{"value", &value}}) {
    check_on_device(name, *t, device_.ordinal);
    check_dtype(name, *t, model);
    check_shape(name, *t, {-1, params_.num_kv_heads, params_.head_size});
    check_compact_from(name, *t, 2);
    check_vector_aligned(name, *t);
  }
  if (key.shape[0] != value.shape[0])
    throw ValueError(fmt::format("key and value must have the same number of tokens, got {} and {}",
                                 key.shape[0], value.shape[0]));
  check_on_device("slot_mapping", slot_mapping, device_.ordinal);
  check_dtype("slot_mapping", slot_mapping, kInt64);
  check_shape("slot_mapping", slot_mapping, {key.shape[0]});
  check_compact_from("slot_mapping", slot_mapping, 0);
  describe_cache(kv_cache, model, &w.block_size, &w.num_blocks, &w.k_cache, &w.v_cache,
                 &w.cache_stride_block);
  tensor::expect_apart({&kv_cache, "kv_cache"},
                       {{&key, "key"}, {&value, "value"}, {&slot_mapping, "slot_mapping"}},
                       "the cache is written while the others are read");
  w.head_size = params_.head_size;
  w.num_kv_heads = params_.num_kv_heads;
  w.num_tokens = static_cast<int>(key.shape[0]);
  w.k_scale = params_.k_scale;
  w.v_scale = params_.v_scale;
  w.key = data_of(key);
  w.k_stride_t = stride_of(key, 0);
  w.k_stride_h = stride_of(key, 1);
  w.value = data_of(value);
  w.v_stride_t = stride_of(value, 0);
  w.v_stride_h = stride_of(value, 1);
  w.slot_mapping = static_cast<const std::int64_t*>(data_of(slot_mapping));
  w.error_flag = error_flag_device_;
  w.stream = stream;
  return w;
}

void FlashAttentionImpl::reshape_and_cache(const DLTensor& key, const DLTensor& value,
                                           const DLTensor& kv_cache, const DLTensor& slot_mapping,
                                           void* stream) {
  raise_pending_device_error();
  const CacheWriteParams w = describe_cache_write(key, value, kv_cache, slot_mapping, stream);
  if (int rc = launch_reshape_and_cache(w); rc != 0) throw_cuda("reshape_and_cache launch", rc);
}

void FlashAttentionImpl::forward(const DLTensor& query, const DLTensor& key, const DLTensor& value,
                                 const DLTensor& kv_cache, const AttentionMetadata& metadata,
                                 const DLTensor& output) {
  raise_pending_device_error();
  KernelParams p;
  p.dtype = model_dtype(query);
  const DLDataType model = query.dtype;
  const std::int64_t H = params_.num_heads, D = params_.head_size;
  for (auto [name, t] : {std::pair{"query", &query}, std::pair{"output", &output}}) {
    check_on_device(name, *t, device_.ordinal);
    check_dtype(name, *t, model);
    check_shape(name, *t, {-1, H, D});
    check_compact_from(name, *t, 2);
    check_vector_aligned(name, *t);
  }
  tensor::expect_no_internal_overlap(output, "output");  // token rows that alias
  if (output.shape[0] != query.shape[0])
    throw ValueError(fmt::format("output must have shape [{}, {}, {}] like query, got [{}, {}, {}]",
                                 query.shape[0], H, D, output.shape[0], output.shape[1], output.shape[2]));
  const DLTensor& qsl = required(metadata.query_start_loc, "query_start_loc");
  const DLTensor& seq_lens = required(metadata.seq_lens, "seq_lens");
  const DLTensor& block_table = required(metadata.block_table, "block_table");
  const DLTensor& slot_mapping = required(metadata.slot_mapping, "slot_mapping");
  check_dtype("key", key, model);
  const CacheWriteParams w = describe_cache_write(key, value, kv_cache, slot_mapping, metadata.stream);
  if (key.shape[0] != query.shape[0])
    throw ValueError(fmt::format("key must have {} tokens like query, got {}", query.shape[0], key.shape[0]));
  check_on_device("query_start_loc", qsl, device_.ordinal);
  check_dtype("query_start_loc", qsl, kInt32);
  const auto qsl_shape = check_shape("query_start_loc", qsl, {-1});
  if (qsl_shape[0] < 1) throw ValueError("query_start_loc must have num_reqs + 1 >= 1 entries, got 0");
  check_compact_from("query_start_loc", qsl, 0);
  const std::int64_t R = qsl_shape[0] - 1;
  check_on_device("seq_lens", seq_lens, device_.ordinal);
  check_dtype("seq_lens", seq_lens, kInt32);
  check_shape("seq_lens", seq_lens, {R});
  check_compact_from("seq_lens", seq_lens, 0);
  check_on_device("block_table", block_table, device_.ordinal);
  check_dtype("block_table", block_table, kInt32);
  const auto bt_shape = check_shape("block_table", block_table, {R, -1});
  check_compact_from("block_table", block_table, 1);
  const std::int64_t T = query.shape[0];
  if (metadata.max_query_len < 0 || metadata.max_query_len > T ||
      (T > 0 && R > 0 && metadata.max_query_len < 1))
    throw ValueError(fmt::format("metadata.max_query_len must be in [1, num_tokens={}], got {}", T,
                                 metadata.max_query_len));
  if (metadata.max_seq_len < metadata.max_query_len)
    throw ValueError(fmt::format("metadata.max_seq_len must be >= max_query_len={}, got {}",
                                 metadata.max_query_len, metadata.max_seq_len));
  expect_written_apart(query, key, value, kv_cache, metadata, output);

  p.cache_fp8 = w.cache_fp8;
  p.head_size = static_cast<int>(D);
  p.num_heads = static_cast<int>(H);
  p.num_kv_heads = params_.num_kv_heads;
  p.num_tokens = static_cast<int>(T);
  p.num_reqs = static_cast<int>(R);
  p.max_query_len = metadata.max_query_len;
  p.max_seq_len = metadata.max_seq_len;
  p.block_size = w.block_size;
  p.num_blocks = w.num_blocks;
  p.max_blocks_per_req = static_cast<int>(bt_shape[1]);
  p.causal = metadata.causal;
  p.window = params_.sliding_window.value_or(0);
  p.scale = params_.scale;
  p.softcap = params_.logits_soft_cap;
  p.k_scale = params_.k_scale;
  p.v_scale = params_.v_scale;
  p.q = data_of(query);
  p.q_stride_t = stride_of(query, 0);
  p.q_stride_h = stride_of(query, 1);
  p.out = data_of(output);
  p.o_stride_t = stride_of(output, 0);
  p.o_stride_h = stride_of(output, 1);
  p.k_cache = w.k_cache;
  p.v_cache = w.v_cache;
  p.cache_stride_block = w.cache_stride_block;
  p.query_start_loc = static_cast<const int*>(data_of(qsl));
  p.seq_lens = static_cast<const int*>(data_of(seq_lens));
  p.block_table = static_cast<const int*>(data_of(block_table));
  p.bt_stride = stride_of(block_table, 0);
  p.sinks = sinks_;
  p.scratch = scratch_;
  p.scratch_floats = kScratchBytes / static_cast<long long>(sizeof(float));
  p.error_flag = error_flag_device_;
  p.num_sms = device_.num_sms;
  p.compute_capability = device_.capability.to_int();
  p.stream = metadata.stream;

  if (int rc = launch_reshape_and_cache(w); rc != 0) throw_cuda("reshape_and_cache launch", rc);
  if (int rc = launch_attention(p); rc != 0) throw_cuda("attention launch", rc);
}

}  // namespace attnreg::flash_attn
