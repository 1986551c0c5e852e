#include <fmt/format.h>

#include <array>
#include <attnreg/errors.hpp>
#include <attnreg/forward_args.hpp>
#include <attnreg/tensor.hpp>
#include <cmath>
#include <utility>

namespace attnreg {
namespace {

constexpr std::string_view kTokenDims = "num_tokens, num_heads, head_size";
constexpr std::string_view kKvDims = "num_tokens, num_kv_heads, head_size";
constexpr std::string_view kCacheDims = "2, num_blocks, block_size, num_kv_heads, head_size";

// Device, rank and strides: what must hold before shape or contents are read.
void check_layout(const DLTensor& t, std::string_view name, DeviceType device, int ndim,
                  std::string_view dims) {
  tensor::expect_device(t, name, device);
  tensor::expect_ndim(t, name, ndim, dims);
  tensor::expect_usable_strides(t, name, dims);
}

// CUDA kernels get one device: every tensor must be on the query's GPU.
void check_same_gpu(const DLTensor& t, std::string_view name, const DLTensor& query) {
  if (t.device.device_id == query.device.device_id) return;
  throw ValueError(fmt::format("{}: expected device {} (the query's device), got {}", name,
                               tensor::device_string(query), tensor::device_string(t)));
}

const DLTensor& require(const DLTensor* t, std::string_view name, std::string_view what) {
  if (t != nullptr) return *t;
  throw ValueError(fmt::format("{}: is null; expected {}", name, what));
}

std::int64_t read_int(const DLTensor& t, std::int64_t i) {
  const std::array<std::int64_t, 1> index{i};
  const std::byte* p = tensor::element_address(t, index);
  if (t.dtype.bits == 64) return *reinterpret_cast<const std::int64_t*>(p);
  return *reinterpret_cast<const std::int32_t*>(p);
}

std::int64_t read_int2(const DLTensor& t, std::int64_t i, std::int64_t j) {
  const std::array<std::int64_t, 2> index{i, j};
  return *reinterpret_cast<const std::int32_t*>(tensor::element_address(t, index));
}

// Contents of the metadata: offsets, lengths, block indices and slots.
void check_metadata_contents(const ForwardArgs& a, const AttentionMetadata& m) {
  const DLTensor& qsl = *m.query_start_loc;
  const DLTensor& seq_lens = *m.seq_lens;
  const DLTensor& table = *m.block_table;
  const DLTensor& slots = *m.slot_mapping;
  const std::int64_t capacity = a.max_blocks_per_req * a.block_size;
  const std::int64_t num_slots = a.num_blocks * a.block_size;

  if (const auto first = read_int(qsl, 0); first != 0)
    throw ValueError(fmt::format("metadata.query_start_loc: entry 0 is {}; expected 0", first));
  std::int64_t max_q = 0, max_seq = 0;
  for (std::int64_t r = 0; r < a.num_reqs; ++r) {
    const std::int64_t begin = read_int(qsl, r), end = read_int(qsl, r + 1);
    if (end < begin)
      throw ValueError(
          fmt::format("metadata.query_start_loc: decreases from {} at entry {} to {} at entry {}; expected "
                      "non-decreasing offsets",
                      begin, r, end, r + 1));
    if (end > a.num_tokens)
      throw ValueError(
          fmt::format("metadata.query_start_loc: entry {} is {}; expected at most num_tokens = {}", r + 1,
                      end, a.num_tokens));
    const std::int64_t q = end - begin, seq = read_int(seq_lens, r);
    if (seq < q)
      throw ValueError(
          fmt::format("metadata.seq_lens: entry {} is {} but request {} has {} query tokens; expected "
                      "seq_lens[r] >= its query length",
                      r, seq, r, q));
    if (seq > capacity)
      throw ValueError(fmt::format(
          "metadata.seq_lens: entry {} is {}; expected at most {} (max_blocks_per_req {} * block_size {})", r,
          seq, capacity, a.max_blocks_per_req, a.block_size));
    max_q = std::max(max_q, q);
    max_seq = std::max(max_seq, seq);
    const std::int64_t used_blocks = (seq + a.block_size - 1) / a.block_size;
    for (std::int64_t b = 0; b < used_blocks; ++b) {
      const std::int64_t block = read_int2(table, r, b);
      if (block < 0 || block >= a.num_blocks)
        throw ValueError(
            fmt::format("metadata.block_table: entry [{}, {}] is {}; expected a block index in [0, {}) "
                        "(request {} uses {} blocks)",
                        r, b, block, a.num_blocks, r, used_blocks));
    }
    // Token begin + j sits at position seq - q + j of its request.
    for (std::int64_t j = 0; j < q; ++j) {
      const std::int64_t slot = read_int(slots, begin + j);
      if (slot < 0) continue;
      if (slot >= num_slots)
        throw ValueError(fmt::format(
            "metadata.slot_mapping: entry {} is {}; expected a negative (padding) slot or one in [0, {}) "
            "(num_blocks {} * block_size {})",
            begin + j, slot, num_slots, a.num_blocks, a.block_size));
      const std::int64_t pos = seq - q + j;
      const std::int64_t block = read_int2(table, r, pos / a.block_size);
      const std::int64_t expected = block * a.block_size + pos % a.block_size;
      if (slot != expected)
        throw ValueError(fmt::format(
            "metadata.slot_mapping: entry {} (request {}, position {}) is {}; expected {}, the slot "
            "block_table[{}][{}] = {} gives that position with block_size {}",
            begin + j, r, pos, slot, expected, r, pos / a.block_size, block, a.block_size));
    }
  }
  if (const auto last = read_int(qsl, a.num_reqs); last != a.num_tokens)
    throw ValueError(fmt::format("metadata.query_start_loc: last entry ({}) is {}; expected num_tokens = {}",
                                 a.num_reqs, last, a.num_tokens));
  if (m.max_query_len < max_q)
    throw ValueError(fmt::format("metadata.max_query_len: got {}; expected at least {}, the longest query",
                                 m.max_query_len, max_q));
  if (m.max_seq_len < max_seq)
    throw ValueError(
        fmt::format("metadata.max_seq_len: got {}; expected at least {}, the longest seq_lens entry",
                    m.max_seq_len, max_seq));
}

}  // namespace

void validate_layer_params(const AttentionLayerParams& p) {
  if (p.num_heads <= 0)
    throw ValueError(
        fmt::format("params.num_heads: got {}; expected a positive number of query heads", p.num_heads));
  if (p.num_kv_heads <= 0 || p.num_heads % p.num_kv_heads != 0)
    throw ValueError(fmt::format("params.num_kv_heads: got {}; expected a positive divisor of num_heads = {}",
                                 p.num_kv_heads, p.num_heads));
  if (p.head_size <= 0)
    throw ValueError(fmt::format("params.head_size: got {}; expected a positive head size", p.head_size));
  if (!std::isfinite(p.scale) || p.scale < 0.0f)
    throw ValueError(fmt::format(
        "params.scale: got {}; expected a finite scale > 0, or 0 for 1/sqrt(head_size)", p.scale));
  if (p.sliding_window && *p.sliding_window <= 0)
    throw ValueError(
        fmt::format("params.sliding_window: got {}; expected a positive window, or none", *p.sliding_window));
  if (!std::isfinite(p.logits_soft_cap) || p.logits_soft_cap < 0.0f)
    throw ValueError(fmt::format("params.logits_soft_cap: got {}; expected a finite cap > 0, or 0 for off",
                                 p.logits_soft_cap));
  if (p.kv_cache_dtype != "auto" && p.kv_cache_dtype != "fp8_e4m3")
    throw ValueError(fmt::format("params.kv_cache_dtype: got \"{}\"; expected \"auto\" or \"fp8_e4m3\"",
                                 p.kv_cache_dtype));
  for (const auto& [name, value] : {std::pair{"k_scale", p.k_scale}, std::pair{"v_scale", p.v_scale}})
    if (!std::isfinite(value) || value <= 0.0f)
      throw ValueError(fmt::format("params.{}: got {}; expected a finite positive scale", name, value));
}

void expect_written_apart(const DLTensor& query, const DLTensor& key, const DLTensor& value,
                          const DLTensor& kv_cache, const AttentionMetadata& metadata,
                          const DLTensor& output) {
  const tensor::NamedTensor qsl{metadata.query_start_loc, "metadata.query_start_loc"},
      seq_lens{metadata.seq_lens, "metadata.seq_lens"}, table{metadata.block_table, "metadata.block_table"},
      slots{metadata.slot_mapping, "metadata.slot_mapping"};
  tensor::expect_apart({&output, "output"},
                       {{&query, "query"},
                        {&key, "key"},
                        {&value, "value"},
                        {&kv_cache, "kv_cache"},
                        qsl,
                        seq_lens,
                        table,
                        slots},
                       "in-place attention is not supported");
  tensor::expect_apart({&kv_cache, "kv_cache"},
                       {{&query, "query"}, {&key, "key"}, {&value, "value"}, qsl, seq_lens, table, slots},
                       "forward writes the cache while it reads the others");
}

ForwardArgs validate_forward_args(const AttentionLayerParams& params, const DLTensor& query,
                                  const DLTensor& key, const DLTensor& value, const DLTensor& kv_cache,
                                  const AttentionMetadata& metadata, const DLTensor& output,
                                  DeviceType device, bool check_index_ranges) {
  validate_layer_params(params);
  ForwardArgs a;
  a.num_heads = params.num_heads;
  a.num_kv_heads = params.num_kv_heads;
  a.head_size = params.head_size;
  a.fp8_cache = params.kv_cache_dtype == "fp8_e4m3";
  a.scale = params.scale != 0.0f ? params.scale : 1.0f / std::sqrt(static_cast<float>(params.head_size));
  a.causal = metadata.causal && params.attn_type == AttentionType::DECODER;

  check_layout(query, "query", device, 3, kTokenDims);
  a.dtype =
      tensor::expect_dtype(query, "query", {ScalarType::BFloat16, ScalarType::Float16, ScalarType::Float32});
  a.num_tokens = query.shape[0];
  const std::array<std::int64_t, 3> token_shape{a.num_tokens, a.num_heads, a.head_size};
  const std::array<std::int64_t, 3> kv_shape{a.num_tokens, a.num_kv_heads, a.head_size};
  tensor::expect_shape(query, "query", token_shape, kTokenDims);

  for (const auto& [t, name] : {std::pair{&key, "key"}, std::pair{&value, "value"}}) {
    check_layout(*t, name, device, 3, kKvDims);
    tensor::expect_dtype(*t, name, {a.dtype});
    tensor::expect_shape(*t, name, kv_shape, kKvDims);
  }

  check_layout(kv_cache, "kv_cache", device, 5, kCacheDims);
  a.cache_dtype = a.fp8_cache ? ScalarType::Float8_E4M3 : a.dtype;
  const auto cache_type = tensor::scalar_type(kv_cache);
  const ScalarType cache_storage = a.fp8_cache ? ScalarType::UInt8 : a.dtype;
  if (cache_type != cache_storage)
    throw ValueError(fmt::format("kv_cache: expected dtype {} ({}), got {}", to_string(cache_storage),
                                 a.fp8_cache ? "kv_cache_dtype fp8_e4m3 stores float8_e4m3fn bytes"
                                             : "kv_cache_dtype auto stores the query's dtype",
                                 tensor::dtype_string(kv_cache)));
  a.num_blocks = kv_cache.shape[1];
  a.block_size = kv_cache.shape[2];
  const std::array<std::int64_t, 5> cache_shape{2, a.num_blocks, a.block_size, a.num_kv_heads, a.head_size};
  tensor::expect_shape(kv_cache, "kv_cache", cache_shape, kCacheDims);
  if (a.num_blocks < 1 || a.block_size < 1)
    throw ValueError(
        fmt::format("kv_cache: shape {} has no slots; expected num_blocks >= 1 and block_size >= 1",
                    tensor::shape_string(kv_cache)));
  tensor::expect_no_internal_overlap(kv_cache, "kv_cache");

  check_layout(output, "output", device, 3, kTokenDims);
  tensor::expect_dtype(output, "output", {a.dtype});
  tensor::expect_shape(output, "output", token_shape, kTokenDims);
  tensor::expect_no_internal_overlap(output, "output");

  const DLTensor& qsl =
      require(metadata.query_start_loc, "metadata.query_start_loc", "an int32 tensor [num_reqs + 1]");
  const DLTensor& seq_lens = require(metadata.seq_lens, "metadata.seq_lens", "an int32 tensor [num_reqs]");
  const DLTensor& table =
      require(metadata.block_table, "metadata.block_table", "an int32 tensor [num_reqs, max_blocks_per_req]");
  const DLTensor& slots =
      require(metadata.slot_mapping, "metadata.slot_mapping", "an int64 tensor [num_tokens]");

  check_layout(qsl, "metadata.query_start_loc", device, 1, "num_reqs + 1");
  tensor::expect_dtype(qsl, "metadata.query_start_loc", {ScalarType::Int32});
  if (qsl.shape[0] < 1)
    throw ValueError(
        "metadata.query_start_loc: expected shape [num_reqs + 1] with at least one entry, got [0]");
  a.num_reqs = qsl.shape[0] - 1;

  check_layout(seq_lens, "metadata.seq_lens", device, 1, "num_reqs");
  tensor::expect_dtype(seq_lens, "metadata.seq_lens", {ScalarType::Int32});
  const std::array<std::int64_t, 1> reqs_shape{a.num_reqs};
  tensor::expect_shape(seq_lens, "metadata.seq_lens", reqs_shape, "num_reqs");

  check_layout(table, "metadata.block_table", device, 2, "num_reqs, max_blocks_per_req");
  tensor::expect_dtype(table, "metadata.block_table", {ScalarType::Int32});
  a.max_blocks_per_req = table.shape[1];
  const std::array<std::int64_t, 2> table_shape{a.num_reqs, a.max_blocks_per_req};
  tensor::expect_shape(table, "metadata.block_table", table_shape, "num_reqs, max_blocks_per_req");

  check_layout(slots, "metadata.slot_mapping", device, 1, "num_tokens");
  tensor::expect_dtype(slots, "metadata.slot_mapping", {ScalarType::Int64});
  const std::array<std::int64_t, 1> slots_shape{a.num_tokens};
  tensor::expect_shape(slots, "metadata.slot_mapping", slots_shape, "num_tokens");

  if (metadata.max_query_len < 0)
    throw ValueError(fmt::format("metadata.max_query_len: got {}; expected >= 0", metadata.max_query_len));
  if (metadata.max_seq_len < 0)
    throw ValueError(fmt::format("metadata.max_seq_len: got {}; expected >= 0", metadata.max_seq_len));

  const std::array<std::pair<const DLTensor*, std::string_view>, 9> all{{{&query, "query"},
                                                                         {&key, "key"},
                                                                         {&value, "value"},
                                                                         {&kv_cache, "kv_cache"},
                                                                         {&qsl, "metadata.query_start_loc"},
                                                                         {&seq_lens, "metadata.seq_lens"},
                                                                         {&table, "metadata.block_table"},
                                                                         {&slots, "metadata.slot_mapping"},
                                                                         {&output, "output"}}};
  if (device == DeviceType::CUDA)
    for (const auto& [t, name] : all) check_same_gpu(*t, name, query);
  expect_written_apart(query, key, value, kv_cache, metadata, output);

  const bool host_metadata = tensor::is_host_accessible(qsl) && tensor::is_host_accessible(seq_lens) &&
                             tensor::is_host_accessible(table) && tensor::is_host_accessible(slots);
  if (check_index_ranges && host_metadata) {
    check_metadata_contents(a, metadata);
    a.index_ranges_checked = true;
  }
  return a;
}

}  // namespace attnreg
