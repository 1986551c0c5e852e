// Invalid inputs are rejected with ValueError before any launch (output and
// cache stay untouched), and out-of-range device metadata, which the host
// cannot read without a sync, is reported by the next call.
#include <gmock/gmock.h>

#include <attnreg/errors.hpp>
#include <functional>
#include <limits>
#include <string>

#include "device_batch.hpp"

namespace attnreg::flash_attn::test {
namespace {

using ::testing::HasSubstr;

/// Copies of a DeviceBatch's views that a test may edit.
struct Views {
  TensorView q, k, v, cache, out, qsl, seq, bt, slots;
  AttentionMetadata md;
  void bind() {
    md.query_start_loc = &qsl.t;
    md.seq_lens = &seq.t;
    md.block_table = &bt.t;
    md.slot_mapping = &slots.t;
  }
};

class FlashAttnValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    FA_REQUIRE_DEVICE();
    BatchSpec s;
    s.requests = {{1, 40}, {20, 50}};
    b_ = make_batch(s);
    d_ = std::make_unique<DeviceBatch>(b_);
    impl_ = make_impl_for(b_);
  }

  Views views() const {
    const DeviceBatch& d = *d_;
    Views w{d.tq, d.tk, d.tv, d.tcache, d.tout, d.tqsl, d.tseq, d.tbt, d.tslots, d.metadata};
    w.bind();
    return w;
  }

  void expect_rejected(const std::function<void(Views&)>& edit, const std::string& msg) {
    Views w = views();
    edit(w);
    try {
      impl_->forward(w.q, w.k, w.v, w.cache, w.md, w.out);
      ADD_FAILURE() << "forward accepted an invalid input; expected ValueError containing: " << msg;
    } catch (const ValueError& e) {
      EXPECT_THAT(e.what(), HasSubstr(msg));
    }
    ASSERT_EQ(cudaSuccess, cudaDeviceSynchronize());
    std::vector<std::uint16_t> out(b_.q.size());
    d_->out.download(out.data());
    for (auto x : out) ASSERT_EQ(x, 0xFFFF) << "output written although the input was rejected";
    std::vector<std::uint8_t> cache(b_.cache.size());
    d_->cache.download(cache.data());
    EXPECT_EQ(cache, b_.cache) << "cache written although the input was rejected";
  }

  HostBatch b_;
  std::unique_ptr<DeviceBatch> d_;
  std::unique_ptr<AttentionImpl> impl_;
};

TEST_F(FlashAttnValidation, QueryOnHostIsRejected) {
  expect_rejected(
      [](Views& w) {
        w.q.t.device = {kDLCPU, 0};
      },
      "query must be on CUDA device 0 (DLPack device type 2 id 0), got device type 1 id 0");
}

TEST_F(FlashAttnValidation, WrongQueryDtypeIsRejected) {
  expect_rejected(
      [](Views& w) {
        w.q.t.dtype = {kDLFloat, 32, 1};
      },
      "query must have dtype bfloat16 or float16, got float32");
}

TEST_F(FlashAttnValidation, OutputDtypeMustMatchQuery) {
  expect_rejected([](Views& w) { w.out.t.dtype = kDlF16; }, "output must have dtype bfloat16, got float16");
}

TEST_F(FlashAttnValidation, WrongHeadCountIsRejected) {
  expect_rejected([](Views& w) { w.q.shape[1] = 4; }, "query must have shape [*, 8, 128], got [");
}

TEST_F(FlashAttnValidation, NonContiguousHeadDimIsRejected) {
  expect_rejected(
      [](Views& w) {
        w.k.strides = {2 * 128 * 2, 128 * 2, 2};
        w.k.t.strides = w.k.strides.data();
      },
      "key must be contiguous in dimension 2 (stride 1), got stride 2");
}

TEST_F(FlashAttnValidation, OutputRowsThatShareMemoryAreRejected) {
  // Token rows half as far apart as they are long: the second half of each
  // row would be the first half of the next.
  expect_rejected(
      [](Views& w) {
        w.out.strides = {8 * 128 / 2, 128, 1};
        w.out.t.strides = w.out.strides.data();
      },
      "output: strides [512, 128, 1] let elements share memory (dimension 0 steps 512 elements, within the "
      "1024 that the dimensions of smaller stride span)");
}

TEST_F(FlashAttnValidation, CacheBlocksThatAliasAreRejected) {
  expect_rejected(
      [](Views& w) {
        const auto& n = w.cache.shape;
        w.cache.strides = {n[1] * n[2] * n[3] * n[4], 0, n[3] * n[4], n[4], 1};  // every block is block 0
        w.cache.t.strides = w.cache.strides.data();
      },
      "let elements share memory (dimension 1 has size");
}

TEST_F(FlashAttnValidation, InPlaceOutputIsRejected) {
  expect_rejected([](Views& w) { w.q.t.data = w.out.t.data; },
                  "output: overlaps query in memory; expected a separate buffer (in-place attention is not "
                  "supported)");
}

TEST_F(FlashAttnValidation, KeyInsideTheCacheIsRejected) {
  expect_rejected([](Views& w) { w.k.t.data = w.cache.t.data; },
                  "kv_cache: overlaps key in memory; expected a separate buffer (the cache is written while "
                  "the others are read)");
}

TEST_F(FlashAttnValidation, MisalignedQueryIsRejected) {
  expect_rejected([](Views& w) { w.q.t.byte_offset = 2; }, "query must start at a 16-byte aligned address");
}

TEST_F(FlashAttnValidation, CacheBlockSizeNotMultipleOf16IsRejected) {
  expect_rejected(
      [](Views& w) {
        w.cache.shape[1] *= 2;
        w.cache.shape[2] = 8;
      },
      "kv_cache block size must be a positive multiple of 16, got 8");
}

TEST_F(FlashAttnValidation, CacheDtypeMustMatchAuto) {
  expect_rejected([](Views& w) { w.cache.t.dtype = kDlU8; }, "kv_cache must have dtype bfloat16, got uint8");
}

TEST_F(FlashAttnValidation, MissingMetadataIsRejected) {
  expect_rejected([](Views& w) { w.md.block_table = nullptr; },
                  "metadata.block_table must be given (got null)");
}

TEST_F(FlashAttnValidation, SlotMappingMustBeInt64) {
  expect_rejected([](Views& w) { w.slots.t.dtype = kDlI32; },
                  "slot_mapping must have dtype int64, got int32");
}

TEST_F(FlashAttnValidation, SeqLensLengthMustMatchRequests) {
  expect_rejected([](Views& w) { w.seq.shape[0] = 5; }, "seq_lens must have shape [2], got [5]");
}

TEST_F(FlashAttnValidation, MaxQueryLenOutOfRangeIsRejected) {
  expect_rejected([](Views& w) { w.md.max_query_len = 0; },
                  "metadata.max_query_len must be in [1, num_tokens=24], got 0");
}

TEST_F(FlashAttnValidation, MaxSeqLenBelowMaxQueryLenIsRejected) {
  expect_rejected([](Views& w) { w.md.max_seq_len = 3; },
                  "metadata.max_seq_len must be >= max_query_len=20, got 3");
}

TEST_F(FlashAttnValidation, OutOfRangeBlockTableIsReportedByTheNextCall) {
  std::vector<std::int32_t> bt = b_.block_table;
  bt[0] = b_.num_blocks + 5;  // request 0's first block: not a block of the cache
  d_->block_table.upload(bt.data());
  impl_->forward(d_->tq, d_->tk, d_->tv, d_->tcache, d_->metadata, d_->tout);
  ASSERT_EQ(cudaSuccess, cudaDeviceSynchronize());
  try {
    impl_->forward(d_->tq, d_->tk, d_->tv, d_->tcache, d_->metadata, d_->tout);
    ADD_FAILURE() << "the out-of-range block_table entry was not reported";
  } catch (const ValueError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("FLASH_ATTN: an earlier launch met out-of-range device metadata (a block_table "
                          "entry was outside [0, num_blocks)"));
  }
  // Reported once: with the table fixed, the next call runs normally.
  d_->block_table.upload(b_.block_table.data());
  d_->poison_output();
  impl_->forward(d_->tq, d_->tk, d_->tv, d_->tcache, d_->metadata, d_->tout);
  expect_matches_reference(b_, *d_);
}

TEST_F(FlashAttnValidation, SlotPastTheCacheIsReportedByTheNextCall) {
  std::vector<std::int64_t> slots = b_.slot_mapping;
  slots[0] = static_cast<std::int64_t>(b_.num_blocks) * b_.spec.block_size;
  d_->slots.upload(slots.data());
  impl_->reshape_and_cache(d_->tk, d_->tv, d_->tcache, d_->tslots, nullptr);
  ASSERT_EQ(cudaSuccess, cudaDeviceSynchronize());
  try {
    impl_->reshape_and_cache(d_->tk, d_->tv, d_->tcache, d_->tslots, nullptr);
    ADD_FAILURE() << "the out-of-range slot was not reported";
  } catch (const ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr("a slot_mapping entry was past the end of the KV cache"));
  }
}

TEST_F(FlashAttnValidation, MaxQueryLenBelowARequestIsReportedByTheNextCall) {
  AttentionMetadata md = d_->metadata;
  md.max_query_len = 10;  // request 1 has 20 query tokens
  impl_->forward(d_->tq, d_->tk, d_->tv, d_->tcache, md, d_->tout);
  ASSERT_EQ(cudaSuccess, cudaDeviceSynchronize());
  try {
    impl_->forward(d_->tq, d_->tk, d_->tv, d_->tcache, d_->metadata, d_->tout);
    ADD_FAILURE() << "the too-small max_query_len was not reported";
  } catch (const ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr("a request's query length exceeded metadata.max_query_len"));
  }
}

// A layer of 8 query heads over 2 KV heads, head size 128, that `change`
// makes invalid; make_impl's ValueError message, or a failure naming the
// layer when it accepted it.
std::string make_impl_error(const std::function<void(AttentionLayerParams&)>& change) {
  AttentionLayerParams p;
  p.num_heads = 8;
  p.num_kv_heads = 2;
  p.head_size = 128;
  change(p);
  try {
    flash_attn_backend().make_impl(p);
  } catch (const ValueError& e) {
    return e.what();
  }
  ADD_FAILURE() << "make_impl accepted heads " << p.num_heads << "/" << p.num_kv_heads << ", head size "
                << p.head_size << ", scale " << p.scale << ", k_scale " << p.k_scale;
  return "";
}

TEST(FlashAttnMakeImpl, UnsupportedHeadSizeIsRejectedWithTheReason) {
  FA_REQUIRE_DEVICE();
  EXPECT_THAT(make_impl_error([](auto& p) { p.head_size = 72; }),
              HasSubstr("FLASH_ATTN cannot serve this layer: head_size not supported: 72 (supported: 64, "
                        "96, 128, 256)"));
}

// Layer parameters are checked before the device is looked for, so these run
// on machines without one.
TEST(FlashAttnMakeImpl, BadLayerParamsAreRejectedAsEveryBackendRejectsThem) {
  EXPECT_THAT(make_impl_error([](auto& p) { p.num_kv_heads = 3; }),
              HasSubstr("params.num_kv_heads: got 3; expected a positive divisor of num_heads = 8"));
  EXPECT_THAT(make_impl_error([](auto& p) { p.scale = std::numeric_limits<float>::quiet_NaN(); }),
              HasSubstr("params.scale: got nan; expected a finite scale > 0, or 0 for 1/sqrt(head_size)"));
}

TEST(FlashAttnMakeImpl, Fp8WithoutPositiveScaleIsRejected) {
  EXPECT_THAT(make_impl_error([](auto& p) {
                p.kv_cache_dtype = "fp8_e4m3";
                p.k_scale = 0.0f;
              }),
              HasSubstr("params.k_scale: got 0; expected a finite positive scale"));
}

}  // namespace
}  // namespace attnreg::flash_attn::test
