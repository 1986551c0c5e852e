// FLASH_ATTN forward() on the device against the float64 reference: every
// supported feature on random ragged mixed batches (decodes and prefill
// chunks with prefixes, holes in the block table, padding tokens, NaN-poisoned
// output and unused cache slots).
#include <fmt/format.h>

#include <string>

#include "device_batch.hpp"

namespace attnreg::flash_attn::test {
namespace {

struct Case {
  std::string name;
  BatchSpec spec;
};

BatchSpec mixed(int head_size, bool bf16) {
  BatchSpec s;
  s.bf16 = bf16;
  s.head_size = head_size;
  // decodes (q 1..4, short and long contexts), prefill chunks with and
  // without a prefix, one longer than a 64-row tile.
  s.requests = {{1, 37}, {1, 700}, {3, 150}, {4, 4}, {70, 120}, {130, 130}, {9, 300}, {2, 2}};
  return s;
}

std::vector<Case> cases() {
  std::vector<Case> c;
  for (int d : {64, 96, 128, 256})
    for (bool bf16 : {true, false})
      c.push_back({fmt::format("d{}_{}", d, bf16 ? "bf16" : "fp16"), mixed(d, bf16)});
  auto add = [&](std::string name, auto edit) {
    BatchSpec s = mixed(128, true);
    edit(s);
    c.push_back({std::move(name), s});
  };
  add("fp8_bf16", [](BatchSpec& s) { s.fp8 = true; });
  add("fp8_fp16_d64", [](BatchSpec& s) {
    s.fp8 = true;
    s.bf16 = false;
    s.head_size = 64;
  });
  add("fp8_bf16_d96", [](BatchSpec& s) {
    s.fp8 = true;
    s.head_size = 96;
  });
  add("fp8_fp16_gqa_12_over_4_softcap", [](BatchSpec& s) {
    s.fp8 = true;
    s.bf16 = false;
    s.num_heads = 12;
    s.num_kv_heads = 4;
    s.softcap = 5.0f;
  });
  add("mqa_16_heads", [](BatchSpec& s) {
    s.num_heads = 16;
    s.num_kv_heads = 1;
  });
  add("mha", [](BatchSpec& s) {
    s.num_heads = 4;
    s.num_kv_heads = 4;
  });
  add("gqa_12_over_4", [](BatchSpec& s) {
    s.num_heads = 12;
    s.num_kv_heads = 4;
  });
  add("sliding_window_33", [](BatchSpec& s) { s.window = 33; });
  add("sliding_window_100_fp8", [](BatchSpec& s) {
    s.window = 100;
    s.fp8 = true;
  });
  add("softcap_5", [](BatchSpec& s) { s.softcap = 5.0f; });
  add("sinks", [](BatchSpec& s) { s.sinks = true; });
  add("non_causal", [](BatchSpec& s) { s.causal = false; });
  add("block_32", [](BatchSpec& s) { s.block_size = 32; });
  add("block_64", [](BatchSpec& s) { s.block_size = 64; });
  add("block_80", [](BatchSpec& s) { s.block_size = 80; });
  add("all_decode_long_split", [](BatchSpec& s) { s.requests = {{1, 3000}, {1, 1500}, {2, 2100}}; });
  add("all_decode_long_split_fp8_sinks", [](BatchSpec& s) {
    s.fp8 = true;
    s.sinks = true;
    s.requests = {{1, 3000}, {1, 1500}, {2, 2100}};
  });
  // One query token per request, the common serving step: the decode grid
  // then has one row per request (max_query_len 1), which no other case has.
  add("all_decode_one_token", [](BatchSpec& s) {
    s.requests = {{1, 3000}, {1, 1500}, {1, 37}, {1, 700}, {1, 16}, {1, 1}};
  });
  add("all_prefill", [](BatchSpec& s) {
    s.requests = {{200, 260}, {65, 65}, {5, 500}};
    s.padding_tokens = 0;
  });
  // Prefills of several 128-row blocks and 128-key tiles (the Hopper
  // kernel's shapes) with a prefix, for both of its head sizes.
  for (int d : {64, 128}) {
    for (bool causal : {true, false}) {
      add(fmt::format("long_prefill_d{}_{}", d, causal ? "causal" : "full"), [=](BatchSpec& s) {
        s.head_size = d;
        s.causal = causal;
        s.requests = {{600, 900}, {257, 257}, {1, 40}, {129, 700}};
      });
    }
  }
  add("long_prefill_d64_fp16_window_softcap_sinks", [](BatchSpec& s) {
    s.head_size = 64;
    s.bf16 = false;
    s.window = 300;
    s.softcap = 8.0f;
    s.sinks = true;
    s.requests = {{520, 1000}, {140, 140}};
  });
  add("everything_d256_fp16", [](BatchSpec& s) {
    s.head_size = 256;
    s.bf16 = false;
    s.fp8 = true;
    s.window = 50;
    s.softcap = 10.0f;
    s.sinks = true;
    s.block_size = 32;
  });
  return c;
}

class ForwardTest : public ::testing::TestWithParam<Case> {};

TEST_P(ForwardTest, MatchesFloat64Reference) {
  FA_REQUIRE_DEVICE();
  const BatchSpec spec = GetParam().spec;
  for (unsigned seed : {1u, 2u}) {
    BatchSpec s = spec;
    s.seed = seed;
    const HostBatch b = make_batch(s);
    const DeviceBatch d(b);
    auto impl = make_impl_for(b);
    impl->forward(d.tq, d.tk, d.tv, d.tcache, d.metadata, d.tout);
    expect_matches_reference(b, d);
  }
}

INSTANTIATE_TEST_SUITE_P(Features, ForwardTest, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(FlashAttnForward, ExplicitScaleAndStridedQueryOutput) {
  FA_REQUIRE_DEVICE();
  const HostBatch b = make_batch(mixed(128, true));
  const DeviceBatch d(b);
  const auto& s = b.spec;
  const std::int64_t T = b.num_tokens, H = s.num_heads, D = s.head_size;
  // query and output with a padded head stride (D + 8) and token stride.
  DeviceBuffer qpad(static_cast<std::size_t>(T) * H * (D + 8) * 2), opad(qpad.bytes());
  FA_CUDA_OK(cudaMemcpy2D(qpad.get(), (D + 8) * 2, d.q.get(), D * 2, D * 2, T * H, cudaMemcpyDeviceToDevice));
  FA_CUDA_OK(cudaMemset(opad.get(), 0xFF, opad.bytes()));
  const TensorView tq(qpad.get(), kDlBf16, {T, H, D}, kDLCUDA, {H * (D + 8), D + 8, 1});
  const TensorView to(opad.get(), kDlBf16, {T, H, D}, kDLCUDA, {H * (D + 8), D + 8, 1});
  AttentionLayerParams p;
  auto unused = make_impl_for(b, &p);
  p.scale = 0.05f;
  auto impl = flash_attn_backend().make_impl(p);
  impl->forward(tq, d.tk, d.tv, d.tcache, d.metadata, to);
  FA_CUDA_OK(
      cudaMemcpy2D(d.out.get(), D * 2, opad.get(), (D + 8) * 2, D * 2, T * H, cudaMemcpyDeviceToDevice));
  expect_matches_reference(b, d, 0.05f);
}

TEST(FlashAttnForward, ReshapeAndCacheAloneWritesTheSlots) {
  FA_REQUIRE_DEVICE();
  BatchSpec s = mixed(64, false);
  s.fp8 = true;
  const HostBatch b = make_batch(s);
  const DeviceBatch d(b);
  auto impl = make_impl_for(b);
  impl->reshape_and_cache(d.tk, d.tv, d.tcache, d.tslots, nullptr);
  FA_CUDA_OK(cudaDeviceSynchronize());
  std::vector<std::uint8_t> cache(b.cache.size());
  d.cache.download(cache.data());
  EXPECT_EQ(cache, expected_cache(b));
}

}  // namespace
}  // namespace attnreg::flash_attn::test
