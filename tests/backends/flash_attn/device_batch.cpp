#include "device_batch.hpp"

#include <attnreg/registry.hpp>
#include <cmath>
#include <cstring>
#include <limits>

namespace attnreg::flash_attn::test {

DeviceBatch::DeviceBatch(const HostBatch& b)
    : q(b.q.size() * 2),
      k(b.k.size() * 2),
      v(b.v.size() * 2),
      cache(b.cache.size()),
      out(b.q.size() * 2),
      qsl(b.query_start_loc.size() * 4),
      seq_lens(b.seq_lens.size() * 4),
      block_table(b.block_table.size() * 4),
      slots(b.slot_mapping.size() * 8) {
  const auto& s = b.spec;
  const DLDataType dt = s.bf16 ? kDlBf16 : kDlF16;
  q.upload(b.q.data());
  k.upload(b.k.data());
  v.upload(b.v.data());
  cache.upload(b.cache.data());
  qsl.upload(b.query_start_loc.data());
  seq_lens.upload(b.seq_lens.data());
  block_table.upload(b.block_table.data());
  slots.upload(b.slot_mapping.data());
  poison_output();
  const std::int64_t T = b.num_tokens, H = s.num_heads, Hkv = s.num_kv_heads, D = s.head_size;
  tq = TensorView(q.get(), dt, {T, H, D});
  tk = TensorView(k.get(), dt, {T, Hkv, D});
  tv = TensorView(v.get(), dt, {T, Hkv, D});
  tout = TensorView(out.get(), dt, {T, H, D});
  tcache = TensorView(cache.get(), s.fp8 ? kDlU8 : dt, {2, b.num_blocks, s.block_size, Hkv, D});
  tqsl = TensorView(qsl.get(), kDlI32, {b.num_reqs + 1});
  tseq = TensorView(seq_lens.get(), kDlI32, {b.num_reqs});
  tbt = TensorView(block_table.get(), kDlI32, {b.num_reqs, b.max_blocks_per_req});
  tslots = TensorView(slots.get(), kDlI64, {T});
  metadata.query_start_loc = &tqsl.t;
  metadata.seq_lens = &tseq.t;
  metadata.block_table = &tbt.t;
  metadata.slot_mapping = &tslots.t;
  metadata.max_query_len = b.max_query_len;
  metadata.max_seq_len = b.max_seq_len;
  metadata.causal = s.causal;
}

void DeviceBatch::poison_output() const {
  // 0xFFFF is a NaN in both bf16 and fp16.
  if (cudaMemset(out.get(), 0xFF, out.bytes()) != cudaSuccess) throw std::runtime_error("cudaMemset failed");
}

const AttentionBackend& flash_attn_backend() { return AttentionBackendEnum::FLASH_ATTN.get_class(); }

std::unique_ptr<AttentionImpl> make_impl_for(const HostBatch& b, AttentionLayerParams* out_params) {
  const auto& s = b.spec;
  AttentionLayerParams p;
  p.num_heads = s.num_heads;
  p.num_kv_heads = s.num_kv_heads;
  p.head_size = s.head_size;
  p.sliding_window = s.window;
  p.logits_soft_cap = s.softcap;
  p.kv_cache_dtype = s.fp8 ? "fp8_e4m3" : "auto";
  p.sinks = s.sinks ? b.sinks.data() : nullptr;
  p.k_scale = s.fp8 ? s.k_scale : 1.0f;
  p.v_scale = s.fp8 ? s.v_scale : 1.0f;
  if (out_params != nullptr) *out_params = p;
  return flash_attn_backend().make_impl(p);
}

void expect_matches_reference(const HostBatch& b, const DeviceBatch& d, float scale) {
  ASSERT_EQ(cudaSuccess, cudaDeviceSynchronize());
  const auto& s = b.spec;
  std::vector<std::uint16_t> out(b.q.size());
  d.out.download(out.data());
  const auto ref = reference_output(b, scale);
  const double atol = s.bf16 ? 1.2e-2 : 2e-3, rtol = s.bf16 ? 1.6e-2 : 4e-3;
  double max_err = 0.0;
  std::size_t bad = 0, first_bad = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double got = from_bits(out[i], s.bf16);
    if (std::isnan(ref[i])) {
      if (!std::isnan(got) && bad++ == 0) first_bad = i;  // padding row was written
      continue;
    }
    const double err = std::abs(got - ref[i]);
    if (!(err <= atol + rtol * std::abs(ref[i])) && bad++ == 0) first_bad = i;
    if (std::isfinite(err)) max_err = std::max(max_err, err);
  }
  const std::size_t row = first_bad / s.head_size;
  EXPECT_EQ(bad, 0u) << "first mismatch at token " << row / s.num_heads << " head " << row % s.num_heads
                     << " dim " << first_bad % s.head_size << ": got " << from_bits(out[first_bad], s.bf16)
                     << ", want " << ref[first_bad] << " (max finite error " << max_err << ")";
  std::vector<std::uint8_t> cache(b.cache.size());
  d.cache.download(cache.data());
  const auto want = expected_cache(b);
  EXPECT_TRUE(std::memcmp(cache.data(), want.data(), want.size()) == 0)
      << "KV cache differs from the expected write";
}

}  // namespace attnreg::flash_attn::test
