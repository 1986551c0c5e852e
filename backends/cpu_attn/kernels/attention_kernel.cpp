// CPU_ATTN attention kernel (see attention_kernel.hpp). The per-target part
// is compiled once per Highway x86 target and chosen at run time (its files:
// the include list below); the OpenMP driver below HWY_ONCE is compiled once,
// and the work plan it runs is work_plan.cpp.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention_kernel.cpp"
#include <hwy/foreach_target.h>
#include <hwy/highway.h>
#include <hwy/cache_control.h>
#include <hwy/contrib/math/math-inl.h>
// clang-format on

#include "kernels/attention_kernel.hpp"
#include "kernels/work_plan.hpp"

#include <algorithm>
#include <array>
#include <attnreg/numeric.hpp>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

HWY_BEFORE_NAMESPACE();
namespace attnreg::cpu_attn::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// The per-target kernels, each file building on the ones before it.
// clang-format off
#include "kernels/element_math-inl.h"      // conversions, prefetch, the softmax's exp
#include "kernels/decode_tile-inl.h"       // decode tiles, chunk loaders (namespace decode)
#include "kernels/decode_bf16_dot-inl.h"   // decode scores and P.V in vdpbf16ps
#include "kernels/kv_head_bf16_dot-inl.h"  // packed tiles and products of one-head items
#include "kernels/kv_head_item-inl.h"      // one-KV-head items, output, split merge
#include "kernels/decode_all_heads-inl.h"  // the all-heads decode items
// clang-format on

/// Runs a decode item (kv_head = -1): the fast path where this target and the
/// cache type allow it, else the general kernel once per KV head.
void ProcessDecodeItem(const KernelArgs& a, const WorkItem& it, ThreadScratch& s, float* partials) {
#if ATTNREG_CPU_DECODE_FAST
  const int Dh = static_cast<int>(a.sizes.head_size);
  if (Dh % (2 * decode::kLanes) == 0 && a.cache.strides[4] == 1) {
    switch (a.cache.dtype) {
      case ScalarType::BFloat16:
#if ATTNREG_CPU_BF16_DOT
        if (UseBF16Dot(a)) return decode::ItemBF16Dot(a, it, s, partials);
#endif
        return decode::Item<decode::LoadBF16>(a, it, s, partials);
      case ScalarType::Float16:
        return decode::Item<decode::LoadF16>(a, it, s, partials);
      case ScalarType::Float32:
        return decode::Item<decode::LoadF32>(a, it, s, partials);
      case ScalarType::Float8_E4M3:
#if ATTNREG_CPU_BF16_DOT
        if (UseBF16Dot(a)) return decode::ItemFP8Dot(a, it, s, partials);
#endif
        return decode::Item<decode::LoadFP8>(a, it, s, partials);
      default:
        break;
    }
  }
#endif
  const int group = static_cast<int>(a.sizes.num_heads / a.sizes.num_kv_heads);
  const int Dh2 = static_cast<int>(a.sizes.head_size) + 2;
  for (int g = 0; g < a.sizes.num_kv_heads; ++g) {
    WorkItem sub = it;
    sub.kv_head = g;
    if (it.num_splits > 1)
      sub.partial_offset = it.partial_offset + static_cast<std::int64_t>(g) * group * Dh2;
    ProcessItem(a, sub, s, partials);
  }
}

/// Whether this target's decode fast path (decode::Item) takes head size
/// Dh: whole chunks of 2 vectors, 32 elements on AVX-512 and 16 on AVX2.
bool DecodeFastPathTakes(std::int64_t Dh) {
#if ATTNREG_CPU_DECODE_FAST
  return Dh % (2 * decode::kLanes) == 0;
#else
  (void)Dh;
  return false;
#endif
}

/// This target's Highway bit.
std::int64_t TargetBit() { return HWY_TARGET; }

}  // namespace attnreg::cpu_attn::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <hwy/targets.h>
#include <omp.h>

namespace attnreg::cpu_attn {
HWY_EXPORT(ProcessItem);
HWY_EXPORT(ProcessDecodeItem);
HWY_EXPORT(MergeSplits);
HWY_EXPORT(TargetBit);
HWY_EXPORT(DecodeFastPathTakes);

namespace {

/// Resolves Highway's chosen target once, before any parallel region, so
/// worker threads only read the dispatch tables.
void init_dispatch() {
  static const bool done = [] {
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    return true;
  }();
  (void)done;
}

using DecodeItemFn = void (*)(const KernelArgs&, const WorkItem&, ThreadScratch&, float*);

/// The decode items' entry: the dispatched target's, unless its fast path
/// does not take the head size and AVX2's does (AVX-512 needs multiples of
/// 32, AVX2 of 16: head sizes 48, 80, 112, ...), where AVX2's fast path is
/// several times faster than AVX-512's general kernel (notes, attempt 67).
DecodeItemFn decode_item_entry(std::int64_t head_size) {
#if HWY_TARGETS & HWY_AVX2
  if (!HWY_DYNAMIC_DISPATCH(DecodeFastPathTakes)(head_size) && (hwy::SupportedTargets() & HWY_AVX2) &&
      N_AVX2::DecodeFastPathTakes(head_size))
    return &N_AVX2::ProcessDecodeItem;
#endif
  return &HWY_DYNAMIC_DISPATCH(ProcessDecodeItem);
}

}  // namespace

void run_attention(const KernelArgs& args, Workspace& ws) {
  init_dispatch();
  const int threads = omp_get_max_threads();
  plan_work(args, ws, threads);
  size_scratch(args, ws, threads);
  auto* process = &HWY_DYNAMIC_DISPATCH(ProcessItem);
  const DecodeItemFn process_decode = decode_item_entry(args.sizes.head_size);
  auto* merge = &HWY_DYNAMIC_DISPATCH(MergeSplits);
  const auto num_items = static_cast<std::int64_t>(ws.items.size());
  const auto num_groups = static_cast<std::int64_t>(ws.merge_groups.size());
#pragma omp parallel num_threads(threads)
  {
    ThreadScratch& scratch = ws.threads[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t i = 0; i < num_items; ++i) {
      const WorkItem& it = ws.items[ws.order[i]];
      (it.kv_head < 0 ? process_decode : process)(args, it, scratch, ws.partials.data());
    }
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t g = 0; g < num_groups; ++g)
      merge(args, ws.items.data() + ws.merge_groups[g], ws.partials.data());
  }
}

const char* dispatched_target() {
  init_dispatch();
  return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetBit)());
}

}  // namespace attnreg::cpu_attn
#endif  // HWY_ONCE
