#include <fmt/format.h>

#include <algorithm>
#include <attnreg/errors.hpp>
#include <attnreg/forward_args.hpp>
#include <attnreg/numeric.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <attnreg/tensor.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

namespace attnreg {
namespace {

// splitmix64: tiny, fast and good enough for test data; std::mt19937_64 would
// dominate the build time of 32k-token caches.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [-1, 1).
  float symmetric() noexcept { return static_cast<float>(next() >> 40) * 0x1.0p-23f - 1.0f; }
  /// Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

 private:
  std::uint64_t state_;
};

// Fills count elements of storage type `type` with uniform [-1, 1) / divisor.
// One loop per type keeps the per-element switch of store_from_float out of
// the loop: 32k-token caches hold ~10^8 elements.
template <class Bits, class Convert>
void fill_as(std::byte* data, std::int64_t count, float divisor, Rng& rng, Convert convert) {
  for (std::int64_t i = 0; i < count; ++i) {
    const Bits bits = convert(rng.symmetric() / divisor);
    std::memcpy(data + i * sizeof(Bits), &bits, sizeof(Bits));
  }
}

void fill_random(std::byte* data, std::int64_t count, ScalarType type, float divisor, Rng& rng) {
  switch (type) {
    case ScalarType::BFloat16:
      return fill_as<std::uint16_t>(data, count, divisor, rng, numeric::float_to_bf16);
    case ScalarType::Float16:
      return fill_as<std::uint16_t>(data, count, divisor, rng, numeric::float_to_fp16);
    case ScalarType::Float8_E4M3:
      return fill_as<std::uint8_t>(data, count, divisor, rng, numeric::float_to_fp8_e4m3);
    default:
      return fill_as<float>(data, count, divisor, rng, [](float x) { return x; });
  }
}

void fill_nan(std::vector<std::byte>& data, ScalarType type) {
  const int bytes = element_size(type);
  for (std::size_t i = 0; i + bytes <= data.size(); i += bytes)
    numeric::store_from_float(data.data() + i, type, std::numeric_limits<float>::quiet_NaN());
}

void validate_spec(const BatchSpec& s) {
  if (s.context_lens.empty())
    throw ValueError(
        "BatchSpec.context_lens: is empty; expected one entry per request (at least one request)");
  if (s.context_lens.size() != s.query_lens.size())
    throw ValueError(
        fmt::format("BatchSpec.query_lens: has {} entries; expected one per request, {} (as context_lens)",
                    s.query_lens.size(), s.context_lens.size()));
  for (std::size_t r = 0; r < s.context_lens.size(); ++r) {
    if (s.context_lens[r] < 0 || s.query_lens[r] < 0 || s.context_lens[r] + s.query_lens[r] == 0)
      throw ValueError(
          fmt::format("BatchSpec: request {} has context_len {} and query_len {}; expected non-negative "
                      "lengths with at least "
                      "one token in total",
                      r, s.context_lens[r], s.query_lens[r]));
  }
  if (s.block_size <= 0)
    throw ValueError(
        fmt::format("BatchSpec.block_size: got {}; expected a positive block size", s.block_size));
  if (s.num_padding_tokens < 0)
    throw ValueError(
        fmt::format("BatchSpec.num_padding_tokens: got {}; expected >= 0", s.num_padding_tokens));
  if (s.extra_block_table_columns < 0)
    throw ValueError(fmt::format("BatchSpec.extra_block_table_columns: got {}; expected >= 0",
                                 s.extra_block_table_columns));
  if (s.strided_cache && s.head_major_cache)
    throw ValueError(
        "BatchSpec: strided_cache and head_major_cache are both set; expected at most one cache layout");
  if (s.dtype != ScalarType::Float32 && s.dtype != ScalarType::Float16 && s.dtype != ScalarType::BFloat16)
    throw ValueError(
        fmt::format("BatchSpec.dtype: got {}; expected bfloat16, float16 or float32", to_string(s.dtype)));
}

}  // namespace

SyntheticBatch::SyntheticBatch(BatchSpec spec) : spec_(std::move(spec)) {
  validate_spec(spec_);
  params_.num_heads = spec_.num_heads;
  params_.num_kv_heads = spec_.num_kv_heads;
  params_.head_size = spec_.head_size;
  params_.scale = spec_.scale;
  params_.sliding_window = spec_.sliding_window;
  params_.logits_soft_cap = spec_.logits_soft_cap;
  params_.kv_cache_dtype = spec_.kv_cache_dtype;
  params_.attn_type = spec_.attn_type;
  params_.k_scale = spec_.k_scale;
  params_.v_scale = spec_.v_scale;
  validate_layer_params(params_);  // heads, head size, window, cap, cache dtype, scales

  Rng rng(spec_.seed);
  const std::int64_t H = spec_.num_heads, Hkv = spec_.num_kv_heads, D = spec_.head_size,
                     bs = spec_.block_size;
  if (spec_.use_sinks) {
    sinks_.resize(H);
    for (auto& s : sinks_) s = rng.symmetric();
    params_.sinks = sinks_.data();
  }
  if (spec_.use_alibi) {
    alibi_slopes_.resize(H);
    for (std::int64_t h = 0; h < H; ++h)
      alibi_slopes_[h] = std::exp2(-8.0f * static_cast<float>(h + 1) / static_cast<float>(H));
    params_.alibi_slopes = alibi_slopes_.data();
  }

  // Requests, with the padding tokens as one more request.
  std::vector<std::int64_t> ctx(spec_.context_lens.begin(), spec_.context_lens.end());
  std::vector<std::int64_t> qry(spec_.query_lens.begin(), spec_.query_lens.end());
  if (spec_.num_padding_tokens > 0) {
    ctx.push_back(0);
    qry.push_back(spec_.num_padding_tokens);
  }
  num_reqs_ = static_cast<std::int64_t>(ctx.size());
  std::vector<std::int64_t> blocks_needed(num_reqs_);
  std::int64_t total_blocks = 0, max_blocks = 0, max_q = 0, max_seq = 0;
  for (std::int64_t r = 0; r < num_reqs_; ++r) {
    blocks_needed[r] = (ctx[r] + qry[r] + bs - 1) / bs;
    total_blocks += blocks_needed[r];
    max_blocks = std::max(max_blocks, blocks_needed[r]);
    max_q = std::max(max_q, qry[r]);
    max_seq = std::max(max_seq, ctx[r] + qry[r]);
    num_tokens_ += qry[r];
  }
  num_blocks_ = spec_.shuffle_blocks ? 2 * total_blocks + 1 : total_blocks;
  max_blocks_per_req_ = max_blocks + spec_.extra_block_table_columns;

  std::vector<std::int32_t> pool(num_blocks_);
  std::iota(pool.begin(), pool.end(), 0);
  if (spec_.shuffle_blocks)
    for (std::int64_t i = num_blocks_ - 1; i > 0; --i) std::swap(pool[i], pool[rng.below(i + 1)]);
  block_table_.assign(num_reqs_ * max_blocks_per_req_, 0);
  query_start_loc_.assign(1, 0);
  std::int64_t next_block = 0;
  for (std::int64_t r = 0; r < num_reqs_; ++r) {
    for (std::int64_t b = 0; b < blocks_needed[r]; ++b)
      block_table_[r * max_blocks_per_req_ + b] = pool[next_block++];
    seq_lens_.push_back(static_cast<std::int32_t>(ctx[r] + qry[r]));
    query_start_loc_.push_back(static_cast<std::int32_t>(query_start_loc_.back() + qry[r]));
    const bool padding = spec_.num_padding_tokens > 0 && r == num_reqs_ - 1;
    for (std::int64_t j = 0; j < qry[r]; ++j) {
      const std::int64_t p = ctx[r] + j;
      slot_mapping_.push_back(padding ? -1 : block_table_[r * max_blocks_per_req_ + p / bs] * bs + p % bs);
    }
  }

  const ScalarType dtype = spec_.dtype;
  const int esize = element_size(dtype);
  query_.resize(num_tokens_ * H * D * esize);
  key_.resize(num_tokens_ * Hkv * D * esize);
  value_.resize(key_.size());
  output_.resize(query_.size());
  fill_random(query_.data(), num_tokens_ * H * D, dtype, 1.0f, rng);
  fill_random(key_.data(), num_tokens_ * Hkv * D, dtype, 1.0f, rng);
  fill_random(value_.data(), num_tokens_ * Hkv * D, dtype, 1.0f, rng);
  fill_nan(output_, dtype);

  // The cache: every element random (so a stray read is finite), K and V
  // halves quantised with their own scales for fp8.
  const bool fp8 = spec_.kv_cache_dtype == "fp8_e4m3";
  const ScalarType cache_type = fp8 ? ScalarType::Float8_E4M3 : dtype;
  const int csize = element_size(cache_type);
  const std::int64_t row = spec_.strided_cache ? D + 8 : D;  // physical head row, padded when strided
  const std::int64_t half = num_blocks_ * bs * Hkv * row;    // elements of K (or V) in all blocks
  cache_.resize(2 * half * csize);
  if (spec_.strided_cache) {
    // Physically [num_blocks][2][block_size][Hkv][D + 8].
    cache_strides_ = {bs * Hkv * row, 2 * bs * Hkv * row, Hkv * row, row, 1};
    for (std::int64_t b = 0; b < num_blocks_; ++b)
      for (int kv = 0; kv < 2; ++kv)
        fill_random(cache_.data() + (b * cache_strides_[1] + kv * cache_strides_[0]) * csize, bs * Hkv * row,
                    cache_type, fp8 ? (kv == 0 ? spec_.k_scale : spec_.v_scale) : 1.0f, rng);
  } else {
    cache_strides_ = spec_.head_major_cache ? std::array<std::int64_t, 5>{half, bs * Hkv * D, D, bs * D, 1}
                                            : std::array<std::int64_t, 5>{half, bs * Hkv * D, Hkv * D, D, 1};
    fill_random(cache_.data(), half, cache_type, fp8 ? spec_.k_scale : 1.0f, rng);
    fill_random(cache_.data() + half * csize, half, cache_type, fp8 ? spec_.v_scale : 1.0f, rng);
  }
  if (spec_.keep_initial_cache) initial_cache_ = cache_;

  // DLTensor views.
  auto view = [&](Slot slot, void* data, DLDataType type, std::initializer_list<std::int64_t> shape) {
    std::copy(shape.begin(), shape.end(), shapes_[slot].begin());
    DLTensor& t = tensors_[slot];
    t.data = data;
    t.device = {kDLCPU, 0};
    t.ndim = static_cast<std::int32_t>(shape.size());
    t.dtype = type;
    t.shape = shapes_[slot].data();
    t.strides = nullptr;
    t.byte_offset = 0;
  };
  const DLDataType dl = to_dlpack(dtype);
  view(kQuery, query_.data(), dl, {num_tokens_, H, D});
  view(kKey, key_.data(), dl, {num_tokens_, Hkv, D});
  view(kValue, value_.data(), dl, {num_tokens_, Hkv, D});
  view(kOutput, output_.data(), dl, {num_tokens_, H, D});
  view(kCache, cache_.data(), to_dlpack(cache_type), {2, num_blocks_, bs, Hkv, D});
  tensors_[kCache].strides = cache_strides_.data();
  const DLDataType i32 = to_dlpack(ScalarType::Int32);
  view(kQueryStartLoc, query_start_loc_.data(), i32, {num_reqs_ + 1});
  view(kSeqLens, seq_lens_.data(), i32, {num_reqs_});
  view(kBlockTable, block_table_.data(), i32, {num_reqs_, max_blocks_per_req_});
  view(kSlotMapping, slot_mapping_.data(), to_dlpack(ScalarType::Int64), {num_tokens_});

  metadata_.query_start_loc = &tensors_[kQueryStartLoc];
  metadata_.seq_lens = &tensors_[kSeqLens];
  metadata_.block_table = &tensors_[kBlockTable];
  metadata_.slot_mapping = &tensors_[kSlotMapping];
  metadata_.max_query_len = static_cast<int>(max_q);
  metadata_.max_seq_len = static_cast<int>(max_seq);
  metadata_.causal = spec_.causal;
}

void SyntheticBatch::poison_output() { fill_nan(output_, spec_.dtype); }

void SyntheticBatch::require_initial_cache(const char* what) const {
  if (initial_cache_.empty())
    throw ValueError(
        fmt::format("SyntheticBatch::{}: the batch was built with keep_initial_cache = false; expected "
                    "a batch that keeps its initial cache",
                    what));
}

void SyntheticBatch::reset_cache() {
  require_initial_cache("reset_cache");
  std::copy(initial_cache_.begin(), initial_cache_.end(),
            cache_.begin());  // keeps the buffer (and views) in place
}

std::vector<double> SyntheticBatch::reference_output() const {
  require_initial_cache("reference_output");
  std::vector<std::byte> cache = initial_cache_;
  DLTensor cache_view = kv_cache();
  cache_view.data = cache.data();
  std::vector<double> out(num_tokens_ * spec_.num_heads * spec_.head_size);
  reference::forward(params_, query(), key(), value(), cache_view, metadata_, output(), out);
  return out;
}

reference::Comparison SyntheticBatch::check_output() const {
  return reference::compare(output(), reference_output(),
                            reference::tolerance(spec_.dtype, spec_.kv_cache_dtype));
}

std::vector<std::byte> SyntheticBatch::expected_kv_cache() const {
  require_initial_cache("expected_kv_cache");
  std::vector<std::byte> cache = initial_cache_;
  DLTensor cache_view = kv_cache();
  cache_view.data = cache.data();
  reference::write_kv_cache(params_, key(), value(), cache_view, slot_mapping());
  return cache;
}

std::optional<std::string> SyntheticBatch::check_kv_cache() const {
  const std::vector<std::byte> expected = expected_kv_cache();
  const DLTensor& t = kv_cache();
  const int csize = element_size(tensor::scalar_type(t).value_or(ScalarType::UInt8));
  for (std::int64_t kv = 0; kv < 2; ++kv)
    for (std::int64_t b = 0; b < num_blocks_; ++b)
      for (std::int64_t s = 0; s < spec_.block_size; ++s)
        for (std::int64_t h = 0; h < spec_.num_kv_heads; ++h)
          for (std::int64_t d = 0; d < spec_.head_size; ++d) {
            const std::int64_t offset = (kv * cache_strides_[0] + b * cache_strides_[1] +
                                         s * cache_strides_[2] + h * cache_strides_[3] + d) *
                                        csize;
            if (std::memcmp(cache_.data() + offset, expected.data() + offset, csize) == 0) continue;
            std::uint64_t got = 0, want = 0;
            std::memcpy(&got, cache_.data() + offset, csize);
            std::memcpy(&want, expected.data() + offset, csize);
            return fmt::format("kv_cache[{}, {}, {}, {}, {}] = {:#0{}x}, expected {:#0{}x}", kv, b, s, h, d,
                               got, 2 + 2 * csize, want, 2 + 2 * csize);
          }
  return std::nullopt;
}

}  // namespace attnreg
