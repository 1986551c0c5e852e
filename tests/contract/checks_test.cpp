// The contract's defaults (src/contract/backend.cpp) and the named checks
// behind AttentionBackend::validate_configuration (src/contract/checks.cpp):
// each check passes what the backend supports and refuses the rest with
// vLLM's reason text.
#include <gtest/gtest.h>

#include <attnreg/backend.hpp>
#include <attnreg/checks.hpp>
#include <attnreg/errors.hpp>
#include <string>
#include <vector>

namespace attnreg {
namespace {

// Only the one pure virtual: every capability is the contract's default.
class MinimalBackend final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "MINIMAL"; }
};

// Every capability settable by the test.
class FakeBackend final : public AttentionBackend {
 public:
  std::string_view get_name() const override { return "FAKE"; }
  std::vector<ScalarType> supported_dtypes() const override { return dtypes; }
  std::vector<std::string> supported_kv_cache_dtypes() const override { return kv_cache_dtypes; }
  std::vector<BlockSizeRule> supported_kernel_block_sizes() const override { return block_sizes; }
  std::vector<int> supported_head_sizes() const override { return head_sizes; }
  std::vector<AttentionType> supported_attn_types() const override { return attn_types; }
  std::vector<DeviceType> supported_devices() const override { return devices; }
  bool supports_compute_capability(DeviceCapability c) const override { return c.to_int() >= min_capability; }
  bool supports_sink() const override { return sink; }
  bool is_mla() const override { return mla; }
  bool is_sparse() const override { return sparse; }
  bool supports_mm_prefix() const override { return mm_prefix; }
  bool supports_per_head_quant_scales() const override { return per_head; }
  bool supports_non_causal() const override { return non_causal; }
  bool supports_batch_invariant() const override { return batch_invariant; }
  bool supports_sliding_window() const override { return sliding_window; }
  bool supports_logits_soft_cap() const override { return soft_cap; }
  bool supports_alibi() const override { return alibi; }
  bool supports_attention() const override { return attention; }
  std::optional<std::string> supports_combination(const AttentionConfig&) const override {
    return combination;
  }

  std::vector<ScalarType> dtypes{ScalarType::Float16, ScalarType::BFloat16};
  std::vector<std::string> kv_cache_dtypes{"auto"};
  std::vector<BlockSizeRule> block_sizes{BlockSizeRule::exactly(16), BlockSizeRule::multiple(32)};
  std::vector<int> head_sizes{64, 128};
  std::vector<AttentionType> attn_types{AttentionType::DECODER};
  std::vector<DeviceType> devices{DeviceType::CUDA};
  int min_capability = 90;
  bool sink = false, mla = false, sparse = false, mm_prefix = false, per_head = false, non_causal = false,
       batch_invariant = false, sliding_window = true, soft_cap = true, alibi = false, attention = true;
  std::optional<std::string> combination;
};

AttentionConfig good_config() {
  AttentionConfig c;
  c.head_size = 64;
  c.dtype = ScalarType::BFloat16;
  c.device = DeviceType::CUDA;
  c.device_capability = DeviceCapability{9, 0};
  c.block_size = 16;
  c.num_heads = 8;
  c.num_kv_heads = 2;
  return c;
}

TEST(ContractDefaults, Capabilities) {
  const MinimalBackend b;
  EXPECT_EQ(b.supported_dtypes(), (std::vector<ScalarType>{ScalarType::Float16, ScalarType::BFloat16}));
  EXPECT_EQ(b.supported_kv_cache_dtypes(), std::vector<std::string>{"auto"});
  ASSERT_EQ(b.supported_kernel_block_sizes().size(), 1u);
  EXPECT_TRUE(b.supported_kernel_block_sizes()[0].multiple_of);
  EXPECT_EQ(b.supported_kernel_block_sizes()[0].value, 1);
  EXPECT_TRUE(b.supported_head_sizes().empty());
  EXPECT_EQ(b.supported_attn_types(), std::vector<AttentionType>{AttentionType::DECODER});
  EXPECT_EQ(b.supported_devices(), std::vector<DeviceType>{DeviceType::CUDA});
  EXPECT_TRUE(b.supports_compute_capability({7, 0}));
  EXPECT_FALSE(b.supports_sink());
  EXPECT_FALSE(b.is_mla());
  EXPECT_FALSE(b.is_sparse());
  EXPECT_FALSE(b.supports_mm_prefix());
  EXPECT_FALSE(b.supports_per_head_quant_scales());
  EXPECT_FALSE(b.supports_non_causal());
  EXPECT_FALSE(b.supports_batch_invariant());
  EXPECT_TRUE(b.supports_sliding_window());
  EXPECT_TRUE(b.supports_logits_soft_cap());
  EXPECT_FALSE(b.supports_alibi());
  EXPECT_TRUE(b.supports_attention());
  EXPECT_EQ(b.supports_combination(good_config()), std::nullopt);
  EXPECT_TRUE(b.validate_configuration(good_config()).empty());
}

TEST(ContractDefaults, KvCacheLayout) {
  const MinimalBackend b;
  EXPECT_EQ(b.get_kv_cache_shape(10, 16, 8, 128), (std::vector<std::int64_t>{2, 10, 16, 8, 128}));
  EXPECT_EQ(b.get_kv_cache_stride_order(), (std::vector<int>{0, 1, 2, 3, 4}));
  try {
    b.get_kv_cache_shape(10, 0, 8, 128);
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "get_kv_cache_shape: got num_blocks=10, block_size=0, num_kv_heads=8, head_size=128; need "
                 "num_blocks >= 0 and the others > 0");
  }
}

TEST(ContractDefaults, NoImplementation) {
  const MinimalBackend b;
  try {
    b.make_impl(AttentionLayerParams{});
    FAIL() << "no NotImplementedError";
  } catch (const NotImplementedError& e) {
    EXPECT_STREQ(e.what(), "backend MINIMAL provides no AttentionImpl (make_impl is not implemented)");
  }
}

// Runs one check against a fake backend and a config changed by the caller.
template <class Change, class Setup>
checks::Reason run(checks::Check check, Setup setup, Change change) {
  FakeBackend b;
  setup(b);
  AttentionConfig c = good_config();
  change(c);
  return check(b, c);
}
auto no_setup = [](FakeBackend&) {};
auto no_change = [](AttentionConfig&) {};

TEST(Checks, GoodConfigPassesEveryCheck) {
  const FakeBackend b;
  for (const auto check : checks::all_checks()) EXPECT_EQ(check(b, good_config()), std::nullopt);
  EXPECT_EQ(checks::all_checks().size(), 19u);
  EXPECT_EQ(checks::all_checks().front(), &checks::check_has_attention);
  EXPECT_EQ(checks::all_checks().back(), &checks::check_head_counts);
}

TEST(Checks, HasAttention) {
  EXPECT_EQ(run(
                checks::check_has_attention, [](auto& b) { b.attention = false; }, no_change),
            "attention layers not supported: this backend serves attention-free models only");
  EXPECT_EQ(run(checks::check_has_attention, no_setup, [](auto& c) { c.has_attention = false; }),
            "attention-free model: needs a backend without attention (NO_ATTENTION)");
  EXPECT_EQ(run(
                checks::check_has_attention, [](auto& b) { b.attention = false; },
                [](auto& c) { c.has_attention = false; }),
            std::nullopt);
}

TEST(Checks, DeviceHeadSizeDtypeCacheDtype) {
  EXPECT_EQ(run(checks::check_device, no_setup, [](auto& c) { c.device = DeviceType::CPU; }),
            "device not supported: cpu (supported: cuda)");
  EXPECT_EQ(run(checks::check_head_size, no_setup, [](auto& c) { c.head_size = 72; }),
            "head_size not supported: 72 (supported: 64, 128)");
  EXPECT_EQ(run(checks::check_head_size, no_setup, [](auto& c) { c.head_size = 0; }),
            "head_size not supported: 0 (must be positive)");
  EXPECT_EQ(
      run(
          checks::check_head_size, [](auto& b) { b.head_sizes.clear(); }, [](auto& c) { c.head_size = 72; }),
      std::nullopt);
  EXPECT_EQ(run(checks::check_dtype, no_setup, [](auto& c) { c.dtype = ScalarType::Float32; }),
            "dtype not supported: float32 (supported: float16, bfloat16)");
  EXPECT_EQ(run(checks::check_kv_cache_dtype, no_setup, [](auto& c) { c.kv_cache_dtype = "fp8_e4m3"; }),
            "kv_cache_dtype not supported: fp8_e4m3 (supported: auto)");
}

TEST(Checks, BlockSize) {
  EXPECT_EQ(run(checks::check_block_size, no_setup, [](auto& c) { c.block_size = 48; }),
            "block_size not supported: 48 (supported: 16, multiples of 32)");
  EXPECT_EQ(run(checks::check_block_size, no_setup, [](auto& c) { c.block_size = 64; }), std::nullopt);
  EXPECT_EQ(run(checks::check_block_size, no_setup, [](auto& c) { c.block_size = std::nullopt; }),
            std::nullopt);
  EXPECT_EQ(run(
                checks::check_block_size, [](auto& b) { b.block_sizes.clear(); },
                [](auto& c) { c.block_size = 7; }),
            std::nullopt);
}

TEST(Checks, ModelKinds) {
  EXPECT_EQ(run(checks::check_mla, no_setup, [](auto& c) { c.use_mla = true; }),
            "MLA not supported (this backend serves standard attention)");
  EXPECT_EQ(run(
                checks::check_mla, [](auto& b) { b.mla = true; }, no_change),
            "non-MLA not supported (this backend serves MLA models only)");
  EXPECT_EQ(run(checks::check_sparse, no_setup, [](auto& c) { c.use_sparse = true; }),
            "sparse not supported (this backend is dense)");
  EXPECT_EQ(run(
                checks::check_sparse, [](auto& b) { b.sparse = true; }, no_change),
            "non-sparse not supported (this backend serves sparse attention only)");
  EXPECT_EQ(run(checks::check_attn_type, no_setup, [](auto& c) { c.attn_type = AttentionType::ENCODER; }),
            "attention type encoder not supported (supported: decoder)");
  EXPECT_EQ(run(checks::check_compute_capability, no_setup,
                [](auto& c) {
                  c.device_capability = {{8, 0}};
                }),
            "compute capability not supported: 8.0");
  EXPECT_EQ(
      run(checks::check_compute_capability, no_setup, [](auto& c) { c.device_capability = std::nullopt; }),
      std::nullopt);
}

TEST(Checks, FeatureFlags) {
  EXPECT_EQ(run(checks::check_sink, no_setup, [](auto& c) { c.has_sink = true; }),
            "sink setting not supported (supported: no attention sinks)");
  EXPECT_EQ(run(
                checks::check_sink, [](auto& b) { b.sink = true; }, [](auto& c) { c.has_sink = true; }),
            std::nullopt);
  EXPECT_EQ(run(checks::check_mm_prefix, no_setup, [](auto& c) { c.use_mm_prefix = true; }),
            "partial multimodal token full attention not supported");
  EXPECT_EQ(
      run(checks::check_per_head_quant_scales, no_setup, [](auto& c) { c.use_per_head_quant_scales = true; }),
      "per-head quant scales not supported (supported: one per-tensor k_scale and v_scale)");
  EXPECT_EQ(run(checks::check_non_causal, no_setup, [](auto& c) { c.use_non_causal = true; }),
            "non-causal attention not supported (supported: causal only)");
  EXPECT_EQ(run(checks::check_batch_invariant, no_setup, [](auto& c) { c.use_batch_invariant = true; }),
            "batch invariance not supported");
  EXPECT_EQ(run(checks::check_alibi, no_setup, [](auto& c) { c.has_alibi = true; }), "ALiBi not supported");
  EXPECT_EQ(run(
                checks::check_alibi, [](auto& b) { b.alibi = true; }, [](auto& c) { c.has_alibi = true; }),
            std::nullopt);
}

TEST(Checks, SlidingWindowAndSoftCap) {
  EXPECT_EQ(run(checks::check_sliding_window, no_setup, [](auto& c) { c.sliding_window = 0; }),
            "sliding_window not supported: 0 (must be positive)");
  EXPECT_EQ(run(checks::check_sliding_window, no_setup, [](auto& c) { c.sliding_window = 128; }),
            std::nullopt);
  EXPECT_EQ(run(
                checks::check_sliding_window, [](auto& b) { b.sliding_window = false; },
                [](auto& c) { c.sliding_window = 128; }),
            "sliding window not supported (supported: full attention)");
  EXPECT_EQ(run(checks::check_logits_soft_cap, no_setup, [](auto& c) { c.logits_soft_cap = -1.0f; }),
            "logits_soft_cap not supported: -1 (must be positive, or 0 for off)");
  EXPECT_EQ(run(
                checks::check_logits_soft_cap, [](auto& b) { b.soft_cap = false; },
                [](auto& c) { c.logits_soft_cap = 30.0f; }),
            "logits soft-cap not supported (supported: 0, off)");
}

TEST(Checks, HeadCounts) {
  EXPECT_EQ(run(checks::check_head_counts, no_setup, [](auto& c) { c.num_kv_heads = 3; }),
            "num_heads not supported: 8 query heads over 3 KV heads (num_heads must be a multiple of "
            "num_kv_heads)");
  EXPECT_EQ(run(checks::check_head_counts, no_setup, [](auto& c) { c.num_kv_heads = -2; }),
            "num_heads not supported: 8/-2 (must be positive)");
  EXPECT_EQ(run(checks::check_head_counts, no_setup, [](auto& c) { c.num_kv_heads = 0; }), std::nullopt);
  EXPECT_EQ(run(checks::check_head_counts, no_setup, [](auto& c) { c.num_heads = 0; }), std::nullopt);
}

TEST(Checks, ValidateConfigurationListsEveryReasonInOrderThenTheCombination) {
  FakeBackend b;
  b.combination = "FAKE needs head_size 128 with fp8";
  AttentionConfig c = good_config();
  c.device = DeviceType::CPU;
  c.dtype = ScalarType::Float32;
  c.block_size = 48;
  c.has_alibi = true;
  EXPECT_EQ(b.validate_configuration(c), (std::vector<std::string>{
                                             "device not supported: cpu (supported: cuda)",
                                             "dtype not supported: float32 (supported: float16, bfloat16)",
                                             "block_size not supported: 48 (supported: 16, multiples of 32)",
                                             "ALiBi not supported",
                                             "FAKE needs head_size 128 with fp8",
                                         }));
}

TEST(LayerConfig, CarriesEveryLayerSettingThatValidationReads) {
  const float sinks[4] = {}, slopes[4] = {};
  AttentionLayerParams p;
  p.num_heads = 4;
  p.num_kv_heads = 2;
  p.head_size = 96;
  p.sliding_window = 64;
  p.logits_soft_cap = 30.0f;
  p.kv_cache_dtype = "fp8_e4m3";
  p.attn_type = AttentionType::ENCODER_ONLY;
  p.sinks = sinks;
  p.alibi_slopes = slopes;
  const AttentionConfig c = layer_config(p, DeviceType::CUDA, ScalarType::Float16);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_size, 96);
  EXPECT_EQ(c.sliding_window, 64);
  EXPECT_EQ(c.logits_soft_cap, 30.0f);
  EXPECT_EQ(c.kv_cache_dtype, "fp8_e4m3");
  EXPECT_EQ(c.attn_type, AttentionType::ENCODER_ONLY);
  EXPECT_TRUE(c.has_sink);
  EXPECT_TRUE(c.has_alibi);
  EXPECT_EQ(c.device, DeviceType::CUDA);
  EXPECT_EQ(c.dtype, ScalarType::Float16);
  EXPECT_FALSE(c.block_size.has_value());  // chosen later, by the selector or the engine
  EXPECT_FALSE(c.device_capability.has_value());

  const AttentionConfig plain = layer_config(AttentionLayerParams{}, DeviceType::CPU, ScalarType::Float32);
  EXPECT_FALSE(plain.has_sink);
  EXPECT_FALSE(plain.has_alibi);
  EXPECT_FALSE(plain.sliding_window.has_value());
  EXPECT_EQ(plain.kv_cache_dtype, "auto");
}

}  // namespace
}  // namespace attnreg
