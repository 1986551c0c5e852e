// Example plugin: module "acme.attention" with one backend class,
// AcmeBackend, a small but complete CPU attention backend (float32, paged KV
// cache, causal or not, grouped-query heads). It is deliberately plain C++:
// the point is the shape of a plugin, not speed.
//
// Build: attnreg_add_plugin(acme_attention MODULE acme.attention SOURCES acme_backend.cpp)
// Use:   put the output directory on ATTNREG_PLUGIN_PATH, then
//        register_backend(AttentionBackendEnum::CUSTOM, "acme.attention.AcmeBackend").
#include <attnreg/errors.hpp>
#include <attnreg/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using attnreg::ValueError;

/// Checks that t is a C-contiguous CPU tensor of dtype code/bits with ndim
/// dimensions; the message names the argument and what it should be.
void require(const DLTensor& t, const char* name, int ndim, DLDataTypeCode code, int bits) {
  if (t.device.device_type != kDLCPU)
    throw ValueError(std::string("AcmeBackend: ") + name + " must be a CPU tensor");
  if (t.ndim != ndim)
    throw ValueError(std::string("AcmeBackend: ") + name + " must have " + std::to_string(ndim) +
                     " dimensions, got " + std::to_string(t.ndim));
  if (t.dtype.code != code || t.dtype.bits != bits || t.dtype.lanes != 1)
    throw ValueError(std::string("AcmeBackend: ") + name + " has the wrong dtype (expected " +
                     (code == kDLFloat ? "float" : "int") + std::to_string(bits) + ")");
  if (t.strides != nullptr) {
    std::int64_t expected = 1;
    for (int d = ndim - 1; d >= 0; --d) {
      if (t.shape[d] != 1 && t.strides[d] != expected)
        throw ValueError(std::string("AcmeBackend: ") + name + " must be contiguous");
      expected *= t.shape[d];
    }
  }
}

template <class T>
const T* data_of(const DLTensor& t) {
  return reinterpret_cast<const T*>(static_cast<const char*>(t.data) + t.byte_offset);
}

/// One layer: writes this step's keys/values into the paged cache, then
/// computes softmax(q k^T * scale) v per query over the request's keys.
class AcmeImpl final : public attnreg::AttentionImpl {
 public:
  explicit AcmeImpl(const attnreg::AttentionLayerParams& p)
      : heads_(p.num_heads),
        kv_heads_(p.num_kv_heads == 0 ? p.num_heads : p.num_kv_heads),
        dim_(p.head_size),
        scale_(p.scale != 0.0f ? p.scale : 1.0f / std::sqrt(static_cast<float>(p.head_size))) {}

  void forward(const DLTensor& query, const DLTensor& key, const DLTensor& value, const DLTensor& kv_cache,
               const attnreg::AttentionMetadata& md, const DLTensor& output) override {
    // Validate everything before writing anything.
    require(query, "query", 3, kDLFloat, 32);
    require(key, "key", 3, kDLFloat, 32);
    require(value, "value", 3, kDLFloat, 32);
    require(output, "output", 3, kDLFloat, 32);
    require(kv_cache, "kv_cache", 5, kDLFloat, 32);
    if (!md.query_start_loc || !md.seq_lens || !md.block_table || !md.slot_mapping)
      throw ValueError("AcmeBackend: metadata needs query_start_loc, seq_lens, block_table and slot_mapping");
    require(*md.query_start_loc, "query_start_loc", 1, kDLInt, 32);
    require(*md.seq_lens, "seq_lens", 1, kDLInt, 32);
    require(*md.block_table, "block_table", 2, kDLInt, 32);
    require(*md.slot_mapping, "slot_mapping", 1, kDLInt, 64);
    const std::int64_t tokens = query.shape[0];
    const std::int64_t block_size = kv_cache.shape[2];
    const std::int64_t num_blocks = kv_cache.shape[1];
    const std::int64_t reqs = md.seq_lens->shape[0];
    if (query.shape[1] != heads_ || query.shape[2] != dim_ || key.shape[1] != kv_heads_ ||
        key.shape[2] != dim_ || value.shape[1] != kv_heads_ || kv_cache.shape[3] != kv_heads_ ||
        kv_cache.shape[4] != dim_ || kv_cache.shape[0] != 2 || key.shape[0] != tokens ||
        value.shape[0] != tokens || output.shape[0] != tokens || output.shape[1] != heads_ ||
        output.shape[2] != dim_ || md.slot_mapping->shape[0] != tokens ||
        md.query_start_loc->shape[0] != reqs + 1 || md.block_table->shape[0] != reqs)
      throw ValueError("AcmeBackend: tensor shapes do not match the layer (query/output [T, " +
                       std::to_string(heads_) + ", " + std::to_string(dim_) + "], key/value [T, " +
                       std::to_string(kv_heads_) + ", " + std::to_string(dim_) + "], kv_cache [2, N, B, " +
                       std::to_string(kv_heads_) + ", " + std::to_string(dim_) + "])");
    const auto* qsl = data_of<std::int32_t>(*md.query_start_loc);
    const auto* seq_lens = data_of<std::int32_t>(*md.seq_lens);
    const auto* slots = data_of<std::int64_t>(*md.slot_mapping);
    const std::int64_t max_blocks = md.block_table->shape[1];
    for (std::int64_t t = 0; t < tokens; ++t)
      if (slots[t] >= num_blocks * block_size)
        throw ValueError("AcmeBackend: slot_mapping[" + std::to_string(t) + "] is past the cache");
    const auto* table = data_of<std::int32_t>(*md.block_table);
    for (std::int64_t r = 0; r < reqs; ++r) {
      bool ok = qsl[r] >= 0 && qsl[r + 1] >= qsl[r] && qsl[r + 1] <= tokens &&
                qsl[r + 1] - qsl[r] <= seq_lens[r] && seq_lens[r] <= max_blocks * block_size;
      for (std::int64_t b = 0; ok && b * block_size < seq_lens[r]; ++b)
        ok = table[r * max_blocks + b] >= 0 && table[r * max_blocks + b] < num_blocks;
      if (!ok)
        throw ValueError("AcmeBackend: request " + std::to_string(r) +
                         " has inconsistent query_start_loc/seq_lens/block_table");
    }

    // 1. Cache this step's keys and values: cache[kv][block][offset][head][d].
    auto* cache = static_cast<float*>(kv_cache.data);
    const std::int64_t row = kv_heads_ * dim_;
    const std::int64_t half = num_blocks * block_size * row;
    for (std::int64_t t = 0; t < tokens; ++t) {
      if (slots[t] < 0) continue;  // padding
      std::copy_n(data_of<float>(key) + t * row, row, cache + slots[t] * row);
      std::copy_n(data_of<float>(value) + t * row, row, cache + half + slots[t] * row);
    }

    // 2. Attention per request, query, head.
    const auto* q = data_of<float>(query);
    auto* out = static_cast<float*>(output.data);
    std::vector<float> scores;
    for (std::int64_t r = 0; r < reqs; ++r) {
      const std::int64_t q_len = qsl[r + 1] - qsl[r];
      for (std::int64_t i = 0; i < q_len; ++i) {
        const std::int64_t t = qsl[r] + i;
        const std::int64_t pos = seq_lens[r] - q_len + i;
        const std::int64_t visible = md.causal ? pos + 1 : seq_lens[r];
        for (std::int64_t h = 0; h < heads_; ++h) {
          const std::int64_t kvh = h / (heads_ / kv_heads_);
          const float* qv = q + (t * heads_ + h) * dim_;
          const auto cached = [&](std::int64_t j) {  // row j of this request's keys (values at + half)
            return cache + (table[r * max_blocks + j / block_size] * block_size + j % block_size) * row +
                   kvh * dim_;
          };
          scores.assign(visible, 0.0f);
          float max_score = -INFINITY;
          for (std::int64_t j = 0; j < visible; ++j) {
            float s = 0.0f;
            for (std::int64_t d = 0; d < dim_; ++d) s += qv[d] * cached(j)[d];
            scores[j] = s * scale_;
            max_score = std::max(max_score, scores[j]);
          }
          float total = 0.0f;
          for (auto& s : scores) total += (s = std::exp(s - max_score));
          float* o = out + (t * heads_ + h) * dim_;
          std::fill_n(o, dim_, 0.0f);
          for (std::int64_t j = 0; j < visible; ++j)
            for (std::int64_t d = 0; d < dim_; ++d) o[d] += scores[j] / total * (cached(j) + half)[d];
        }
      }
    }
  }

 private:
  std::int64_t heads_, kv_heads_, dim_;
  float scale_;
};

/// The backend "class": what AcmeBackend supports, and its layer factory.
class AcmeBackend final : public attnreg::AttentionBackend {
 public:
  std::string_view get_name() const override { return "ACME"; }
  std::vector<attnreg::ScalarType> supported_dtypes() const override {
    return {attnreg::ScalarType::Float32};
  }
  std::vector<attnreg::DeviceType> supported_devices() const override { return {attnreg::DeviceType::CPU}; }
  bool supports_non_causal() const override { return true; }
  bool supports_sliding_window() const override { return false; }
  bool supports_logits_soft_cap() const override { return false; }

  std::unique_ptr<attnreg::AttentionImpl> make_impl(const attnreg::AttentionLayerParams& p) const override {
    const int kv_heads = p.num_kv_heads == 0 ? p.num_heads : p.num_kv_heads;
    if (p.num_heads <= 0 || p.head_size <= 0 || kv_heads <= 0 || p.num_heads % kv_heads != 0)
      throw ValueError(
          "AcmeBackend: num_heads must be a positive multiple of num_kv_heads and head_size positive");
    if (p.kv_cache_dtype != "auto" || p.sliding_window || p.logits_soft_cap != 0.0f || p.sinks ||
        p.alibi_slopes || p.attn_type != attnreg::AttentionType::DECODER)
      throw ValueError(
          "AcmeBackend supports plain decoder attention only: kv_cache_dtype 'auto', no sliding window, "
          "soft-cap, sinks or ALiBi");
    return std::make_unique<AcmeImpl>(p);
  }
};

}  // namespace

// The plugin's init: runs once, when "acme.attention" is first resolved.
ATTNREG_PLUGIN(m) { m.add_class<AcmeBackend>("AcmeBackend"); }
