// CPU_ATTN attention kernel (see attention_kernel.hpp). The per-target part
// is compiled once per Highway x86 target and chosen at run time; the
// planning and OpenMP driver below HWY_ONCE are compiled once.

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention_kernel.cpp"
#include <hwy/foreach_target.h>
#include <hwy/highway.h>
#include <hwy/cache_control.h>
#include <hwy/contrib/math/math-inl.h>
// clang-format on

#include "kernels/attention_kernel.hpp"

#include <algorithm>
#include <attnreg/numeric.hpp>
#include <cmath>
#include <cstring>
#include <limits>

HWY_BEFORE_NAMESPACE();
namespace attnreg::cpu_attn::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// n elements of `type` at src (n a multiple of the lane count) as floats.
/// fp8 bytes go through lut (256 dequantised values, scale applied).
HWY_INLINE void ToFloat(const std::byte* src, ScalarType type, int n, float* HWY_RESTRICT dst,
                        const float* lut) {
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  switch (type) {
    case ScalarType::BFloat16: {
      const hn::Rebind<hwy::bfloat16_t, DF> dh;
      const auto* p = reinterpret_cast<const hwy::bfloat16_t*>(src);
      for (int i = 0; i < n; i += N) hn::StoreU(hn::PromoteTo(d, hn::LoadU(dh, p + i)), d, dst + i);
      return;
    }
    case ScalarType::Float16: {
      const hn::Rebind<hwy::float16_t, DF> dh;
      const auto* p = reinterpret_cast<const hwy::float16_t*>(src);
      for (int i = 0; i < n; i += N) hn::StoreU(hn::PromoteTo(d, hn::LoadU(dh, p + i)), d, dst + i);
      return;
    }
    case ScalarType::Float8_E4M3: {
      const auto* p = reinterpret_cast<const std::uint8_t*>(src);
      for (int i = 0; i < n; ++i) dst[i] = lut[p[i]];
      return;
    }
    default:
      std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
      return;
  }
}

/// Prefetches the bytes [p, p + n) into cache, one request per 64-byte line.
HWY_INLINE void Prefetch(const std::byte* p, int n) {
  for (int i = 0; i < n; i += 64) hwy::Prefetch(p + i);
}

/// Per-item constants the row kernels need.
struct ItemContext {
  const KernelArgs* args;
  const WorkItem* item;
  int head_size, group;
  bool dot = false;  ///< bf16 scores with vdpbf16ps from the raw query and cache rows (s.k_src)
};

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
#define ATTNREG_CPU_BF16_DOT 1
/// Scores of 4 bf16 query rows (raw, unscaled) against nk bf16 keys (k padded
/// to a multiple of 4 entries) times scale into sc[r * kTileKeys + j]; vdpbf16ps
/// with the keys' accumulators reduced together (defined below).
void ScoresRows4BF16Dot(const std::byte* const* q, const std::byte* const* k, int nk, int chunks, float scale,
                        float* sc);
/// Whether this call's query and cache allow the vdpbf16ps scores.
bool UseBF16Dot(const KernelArgs& a);
#else
#define ATTNREG_CPU_BF16_DOT 0
#endif

/// Scores, online-softmax update and P.V for NR query rows against one tile of
/// nk keys starting at key0. Rows share each K/V load; NR <= 4 keeps the
/// accumulators in registers.
template <int NR>
HWY_INLINE void ProcessRows(const ItemContext& c, ThreadScratch& s, const std::int32_t* rows, int key0,
                            int nk) {
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  const int Dh = c.head_size;
  const KernelArgs& a = *c.args;
  const float* q[NR];
  float* acc[NR];
  float* sc[NR];
  for (int r = 0; r < NR; ++r) {
    q[r] = s.q.data() + static_cast<std::ptrdiff_t>(rows[r]) * Dh;
    acc[r] = s.acc.data() + static_cast<std::ptrdiff_t>(rows[r]) * Dh;
    sc[r] = s.scores.data() + r * kTileKeys;
  }
  // ---- S = Q K^T for the tile: two keys at a time, so each query vector
  // load feeds two FMAs (6 loads per 8 FMAs with four rows) ----
  int j = 0;
#if ATTNREG_CPU_BF16_DOT
  if constexpr (NR == 4) {
    if (c.dot) {
      const std::byte* qp[4];
      for (int r = 0; r < 4; ++r)
        qp[r] = a.query.at(c.item->token_begin + rows[r] / c.group,
                           c.item->kv_head * c.group + rows[r] % c.group, 0);
      ScoresRows4BF16Dot(qp, s.k_src.data(), nk, Dh / 32, a.sizes.scale, s.scores.data());
      j = nk;
    }
  }
#endif
  for (; j + 2 <= nk; j += 2) {
    const float* HWY_RESTRICT k0p = s.k_rows[j];
    const float* HWY_RESTRICT k1p = s.k_rows[j + 1];
    VF s0[NR], s1[NR];
    for (int r = 0; r < NR; ++r) s0[r] = s1[r] = hn::Zero(d);
    for (int i = 0; i < Dh; i += N) {
      const VF k0 = hn::LoadU(d, k0p + i), k1 = hn::LoadU(d, k1p + i);
      for (int r = 0; r < NR; ++r) {
        const VF qv = hn::LoadU(d, q[r] + i);
        s0[r] = hn::MulAdd(qv, k0, s0[r]);
        s1[r] = hn::MulAdd(qv, k1, s1[r]);
      }
    }
    for (int r = 0; r < NR; ++r) {
      sc[r][j] = hn::GetLane(hn::SumOfLanes(d, s0[r]));
      sc[r][j + 1] = hn::GetLane(hn::SumOfLanes(d, s1[r]));
    }
  }
  if (j < nk) {  // odd tile: the last key alone
    const float* HWY_RESTRICT kp = s.k_rows[j];
    VF s0[NR];
    for (int r = 0; r < NR; ++r) s0[r] = hn::Zero(d);
    for (int i = 0; i < Dh; i += N) {
      const VF k0 = hn::LoadU(d, kp + i);
      for (int r = 0; r < NR; ++r) s0[r] = hn::MulAdd(hn::LoadU(d, q[r] + i), k0, s0[r]);
    }
    for (int r = 0; r < NR; ++r) sc[r][j] = hn::GetLane(hn::SumOfLanes(d, s0[r]));
  }
  // ---- soft-cap, ALiBi, mask; online softmax ----
  float alpha[NR];
  const float cap = a.logits_soft_cap;
  for (int r = 0; r < NR; ++r) {
    const int row = rows[r];
    const int token = row / c.group;
    const int head = c.item->kv_head * c.group + row % c.group;
    const float pos = static_cast<float>(c.item->first_pos + token);
    const float lo = static_cast<float>(std::max(s.lo[row], key0));
    const float hi = static_cast<float>(std::min(s.hi[row], key0 + nk));
    const VF vlo = hn::Set(d, lo), vhi = hn::Set(d, hi), vpos = hn::Set(d, pos);
    const VF slope = hn::Set(d, a.alibi_slopes ? a.alibi_slopes[head] : 0.0f);
    VF vmax = hn::Set(d, kNegInf);
    for (int jv = 0; jv < nk; jv += N) {
      VF x = hn::LoadU(d, sc[r] + jv);
      if (cap > 0.0f) x = hn::Mul(hn::Set(d, cap), hn::Tanh(d, hn::Mul(x, hn::Set(d, 1.0f / cap))));
      const VF kpos = hn::Iota(d, static_cast<float>(key0 + jv));
      if (a.alibi_slopes) x = hn::MulAdd(slope, hn::Sub(kpos, vpos), x);
      x = hn::IfThenElse(hn::And(hn::Ge(kpos, vlo), hn::Lt(kpos, vhi)), x, hn::Set(d, kNegInf));
      hn::StoreU(x, d, sc[r] + jv);
      vmax = hn::Max(vmax, x);
    }
    const float m_old = s.m[row];
    const float m_new = std::max(m_old, hn::GetLane(hn::MaxOfLanes(d, vmax)));
    alpha[r] = std::exp(m_old - m_new);  // 0 for the first tile (m_old = -inf)
    const VF vm = hn::Set(d, m_new);
    VF vsum = hn::Zero(d);
    for (int jv = 0; jv < nk; jv += N) {
      const VF x = hn::LoadU(d, sc[r] + jv);
      // Clamping keeps Exp's argument in its valid range; masked keys get 0.
      const VF p = hn::IfThenElseZero(hn::Gt(x, hn::Set(d, kNegInf)),
                                      hn::Exp(d, hn::Max(hn::Sub(x, vm), hn::Set(d, -87.0f))));
      hn::StoreU(p, d, sc[r] + jv);
      vsum = hn::Add(vsum, p);
    }
    s.l[row] = s.l[row] * alpha[r] + hn::GetLane(hn::SumOfLanes(d, vsum));
    s.m[row] = m_new;
  }
  // ---- O = alpha O + P V: two head-dim vectors at a time, so each
  // broadcast probability feeds two FMAs (6 loads per 8 FMAs with four rows) ----
  int i = 0;
#if HWY_TARGET <= HWY_AVX3
  // 32 vector registers: four head-dim vectors at a time (16 accumulators),
  // 8 loads per 16 FMAs with four rows.
  for (; i + 4 * N <= Dh; i += 4 * N) {
    VF o[4][NR];
    for (int r = 0; r < NR; ++r) {
      const VF al = hn::Set(d, alpha[r]);
      for (int h = 0; h < 4; ++h) o[h][r] = hn::Mul(hn::LoadU(d, acc[r] + i + h * N), al);
    }
    for (int jj = 0; jj < nk; ++jj) {
      VF v[4];
      for (int h = 0; h < 4; ++h) v[h] = hn::LoadU(d, s.v_rows[jj] + i + h * N);
      for (int r = 0; r < NR; ++r) {
        const VF p = hn::Set(d, sc[r][jj]);
        for (int h = 0; h < 4; ++h) o[h][r] = hn::MulAdd(p, v[h], o[h][r]);
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int h = 0; h < 4; ++h) hn::StoreU(o[h][r], d, acc[r] + i + h * N);
  }
#endif
  for (; i + 2 * N <= Dh; i += 2 * N) {
    VF o0[NR], o1[NR];
    for (int r = 0; r < NR; ++r) {
      const VF al = hn::Set(d, alpha[r]);
      o0[r] = hn::Mul(hn::LoadU(d, acc[r] + i), al);
      o1[r] = hn::Mul(hn::LoadU(d, acc[r] + i + N), al);
    }
    for (int jj = 0; jj < nk; ++jj) {
      const VF v0 = hn::LoadU(d, s.v_rows[jj] + i), v1 = hn::LoadU(d, s.v_rows[jj] + i + N);
      for (int r = 0; r < NR; ++r) {
        const VF p = hn::Set(d, sc[r][jj]);
        o0[r] = hn::MulAdd(p, v0, o0[r]);
        o1[r] = hn::MulAdd(p, v1, o1[r]);
      }
    }
    for (int r = 0; r < NR; ++r) {
      hn::StoreU(o0[r], d, acc[r] + i);
      hn::StoreU(o1[r], d, acc[r] + i + N);
    }
  }
  for (; i < Dh; i += N) {  // an odd number of vectors (e.g. D = 48 with 16 lanes)
    VF o[NR];
    for (int r = 0; r < NR; ++r) o[r] = hn::Mul(hn::LoadU(d, acc[r] + i), hn::Set(d, alpha[r]));
    for (int jj = 0; jj < nk; ++jj) {
      const VF v = hn::LoadU(d, s.v_rows[jj] + i);
      for (int r = 0; r < NR; ++r) o[r] = hn::MulAdd(hn::Set(d, sc[r][jj]), v, o[r]);
    }
    for (int r = 0; r < NR; ++r) hn::StoreU(o[r], d, acc[r] + i);
  }
}

/// Writes acc / (l + exp(sink - m)) as the output row of (token, head).
HWY_INLINE void WriteOutput(const KernelArgs& a, std::int64_t token, int head, float m, float l, float* acc,
                            int Dh) {
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  const float denom = l + (a.sinks ? std::exp(a.sinks[head] - m) : 0.0f);
  const VF inv = hn::Set(d, 1.0f / denom);
  for (int i = 0; i < Dh; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, acc + i), inv), d, acc + i);
  std::byte* out = a.output.at(token, head, 0);
  if (a.output.dtype == ScalarType::Float32) {
    std::memcpy(out, acc, static_cast<std::size_t>(Dh) * sizeof(float));
    return;
  }
  // Scalar rounding to nearest even (Highway 1.0's bf16 demotion truncates).
  const std::size_t esize = element_size(a.output.dtype);
  for (int i = 0; i < Dh; ++i) numeric::store_from_float(out + i * esize, a.output.dtype, acc[i]);
}

/// Runs one work item: its query rows against its key range, tile by tile;
/// writes the output (one split) or its partial (m, l, acc) rows.
void ProcessItem(const KernelArgs& a, const WorkItem& it, ThreadScratch& s, float* partials) {
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  const int Dh = static_cast<int>(a.sizes.head_size);
  const int group = static_cast<int>(a.sizes.num_heads / a.sizes.num_kv_heads);
  const int rows = it.num_tokens * group;
  const int seq = a.seq_lens[it.req];
  const int W = a.sliding_window;
  const VF scale = hn::Set(d, a.sizes.scale);
  for (int row = 0; row < rows; ++row) {
    const std::int64_t token = it.token_begin + row / group;
    const int head = it.kv_head * group + row % group;
    float* q = s.q.data() + static_cast<std::ptrdiff_t>(row) * Dh;
    ToFloat(a.query.at(token, head, 0), a.query.dtype, Dh, q, nullptr);
    for (int i = 0; i < Dh; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, q + i), scale), d, q + i);
    std::fill_n(s.acc.data() + static_cast<std::ptrdiff_t>(row) * Dh, Dh, 0.0f);
    s.m[row] = kNegInf;
    s.l[row] = 0.0f;
    const int pos = it.first_pos + row / group;
    s.lo[row] = W > 0 ? std::max(0, pos - W + 1) : 0;
    s.hi[row] = a.sizes.causal ? pos + 1 : (W > 0 ? std::min(seq, pos + W) : seq);
  }
  ItemContext ctx{&a, &it, Dh, group};
#if ATTNREG_CPU_BF16_DOT
  ctx.dot = group % 4 == 0 && UseBF16Dot(a);
#endif
  const std::int32_t* table = a.block_table + it.req * a.block_table_stride;
  const int bs = static_cast<int>(a.sizes.block_size);
  const bool direct = a.cache.dtype == ScalarType::Float32;
  const int row_bytes = Dh * element_size(a.cache.dtype);
  for (int key0 = it.key_begin; key0 < it.key_end; key0 += kTileKeys) {
    const int nk = std::min(kTileKeys, it.key_end - key0);
    int num_active = 0;
    for (int row = 0; row < rows; ++row)
      if (s.lo[row] < key0 + nk && s.hi[row] > key0) s.active[num_active++] = row;
    if (num_active == 0) continue;
    for (int j = 0; j < nk; ++j) {
      const int pos = key0 + j;
      // One KV head's row is a few cache lines every Hkv rows, a stride the
      // hardware prefetchers lose at page boundaries: ask for the next
      // tile's rows while this one is converted.
      if (const int ahead = pos + kTileKeys; ahead < it.key_end) {
        const std::int32_t next = table[ahead / bs];
        Prefetch(a.cache.at(0, next, ahead % bs, it.kv_head, 0), row_bytes);
        Prefetch(a.cache.at(1, next, ahead % bs, it.kv_head, 0), row_bytes);
      }
      const std::int32_t block = table[pos / bs];
      const std::byte* k = a.cache.at(0, block, pos % bs, it.kv_head, 0);
      const std::byte* v = a.cache.at(1, block, pos % bs, it.kv_head, 0);
      if (ctx.dot) {  // scores straight from the bf16 row; V as below
        s.k_src[j] = k;
        float* vt = s.v_tile.data() + static_cast<std::ptrdiff_t>(j) * Dh;
        ToFloat(v, a.cache.dtype, Dh, vt, a.fp8_v_lut);
        s.v_rows[j] = vt;
      } else if (direct) {
        s.k_rows[j] = reinterpret_cast<const float*>(k);
        s.v_rows[j] = reinterpret_cast<const float*>(v);
      } else {
        float* kt = s.k_tile.data() + static_cast<std::ptrdiff_t>(j) * Dh;
        float* vt = s.v_tile.data() + static_cast<std::ptrdiff_t>(j) * Dh;
        ToFloat(k, a.cache.dtype, Dh, kt, a.fp8_k_lut);
        ToFloat(v, a.cache.dtype, Dh, vt, a.fp8_v_lut);
        s.k_rows[j] = kt;
        s.v_rows[j] = vt;
      }
    }
    if (ctx.dot)
      for (int j = nk; j < (nk + 3) / 4 * 4; ++j) s.k_src[j] = s.k_src[nk - 1];
    int r = 0;
    for (; r + 4 <= num_active; r += 4) ProcessRows<4>(ctx, s, s.active.data() + r, key0, nk);
    switch (num_active - r) {
      case 3:
        ProcessRows<3>(ctx, s, s.active.data() + r, key0, nk);
        break;
      case 2:
        ProcessRows<2>(ctx, s, s.active.data() + r, key0, nk);
        break;
      case 1:
        ProcessRows<1>(ctx, s, s.active.data() + r, key0, nk);
        break;
      default:
        break;
    }
  }
  for (int row = 0; row < rows; ++row) {
    float* acc = s.acc.data() + static_cast<std::ptrdiff_t>(row) * Dh;
    if (it.num_splits == 1) {
      WriteOutput(a, it.token_begin + row / group, it.kv_head * group + row % group, s.m[row], s.l[row], acc,
                  Dh);
    } else {
      float* p = partials + it.partial_offset + static_cast<std::ptrdiff_t>(row) * (Dh + 2);
      p[0] = s.m[row];
      p[1] = s.l[row];
      std::memcpy(p + 2, acc, static_cast<std::size_t>(Dh) * sizeof(float));
    }
  }
}

/// Merges the partial rows of the splits items[first .. first + num_splits)
/// with log-sum-exp weights and writes the output.
void MergeSplits(const KernelArgs& a, const WorkItem* items, float* partials) {
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  const WorkItem& it = items[0];
  const int Dh = static_cast<int>(a.sizes.head_size);
  const int group = static_cast<int>(a.sizes.num_heads / a.sizes.num_kv_heads);
  const bool all_heads = it.kv_head < 0;  // decode item: rows are the query heads
  const int rows = all_heads ? static_cast<int>(a.sizes.num_heads) : it.num_tokens * group;
  for (int row = 0; row < rows; ++row) {
    const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(row) * (Dh + 2);
    float m = kNegInf;
    for (int sp = 0; sp < it.num_splits; ++sp) m = std::max(m, partials[items[sp].partial_offset + off]);
    float* out = partials + it.partial_offset + off;  // merged in place into the first split
    float l = 0.0f;
    for (int sp = 0; sp < it.num_splits; ++sp) {
      const float* p = partials + items[sp].partial_offset + off;
      const float w = p[1] > 0.0f ? std::exp(p[0] - m) : 0.0f;  // a split that saw no key weighs 0
      l += w * p[1];
      const VF vw = hn::Set(d, w);
      for (int i = 0; i < Dh; i += N) {
        const VF prev = sp == 0 ? hn::Zero(d) : hn::LoadU(d, out + 2 + i);
        hn::StoreU(hn::MulAdd(vw, hn::LoadU(d, p + 2 + i), prev), d, out + 2 + i);
      }
    }
    if (all_heads)
      WriteOutput(a, it.token_begin, row, m, l, out + 2, Dh);
    else
      WriteOutput(a, it.token_begin + row / group, it.kv_head * group + row % group, m, l, out + 2, Dh);
  }
}

// ---------------------------------------------------------------------------
// Decode items (kv_head = -1): one query token against every KV head of a key
// range. Per tile of keys and per KV head, the group's query rows (in
// registers-sized passes of 4, 2 or 1 rows) compute their scores straight
// from the 16-bit cache (widened in registers, no scratch copy), several
// keys' accumulators are reduced together into one vector of scores, the
// softmax runs on those vectors, and P.V reads each V row once per pass.
// The cache rows of a tile (all heads of a slot, contiguous) are prefetched
// one tile ahead, so memory is read in whole rows.
// ---------------------------------------------------------------------------
#undef ATTNREG_CPU_DECODE_FAST
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define ATTNREG_CPU_DECODE_FAST 1
#else
#define ATTNREG_CPU_DECODE_FAST 0
#endif

#if ATTNREG_CPU_DECODE_FAST
namespace decode {

#if HWY_TARGET <= HWY_AVX3
using Raw = __m512;
/// Per 128-bit block: [a0+a1, a2+a3, b0+b1, b2+b3].
HWY_INLINE Raw PairSum(Raw a, Raw b) {
  return _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}
/// Lane i of the result = sum of the lanes of v[i] (16 vectors).
HWY_INLINE Raw ReduceAll(const Raw* v) {
  Raw t[8], u[4];
  for (int i = 0; i < 8; ++i) t[i] = PairSum(v[2 * i], v[2 * i + 1]);
  for (int i = 0; i < 4; ++i) u[i] = PairSum(t[2 * i], t[2 * i + 1]);
  // u[i]: block b holds the block-b partial sums of v[4i .. 4i+3].
  const Raw x0 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const Raw x1 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(3, 1, 3, 1)));
}
/// Combines (with op) the lanes l, l' with l % NR == l' % NR; every lane gets its class's result.
template <int NR, class Op>
HWY_INLINE Raw Fold(Raw v, Op op) {
  v = op(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  if constexpr (NR <= 4) v = op(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  if constexpr (NR <= 2) v = op(v, _mm512_permute_ps(v, 0x4E));
  if constexpr (NR <= 1) v = op(v, _mm512_permute_ps(v, 0xB1));
  return v;
}
/// p[l % NR] in every lane l.
template <int NR>
HWY_INLINE Raw Pattern(const float* p) {
  if constexpr (NR == 4) {
    return _mm512_broadcast_f32x4(_mm_loadu_ps(p));
  } else if constexpr (NR == 2) {
    double pair;
    std::memcpy(&pair, p, sizeof(pair));
    return _mm512_castpd_ps(_mm512_set1_pd(pair));
  } else {
    return _mm512_set1_ps(*p);
  }
}
#else  // AVX2
using Raw = __m256;
/// Lane i of the result = sum of the lanes of v[i] (8 vectors).
HWY_INLINE Raw ReduceAll(const Raw* v) {
  const Raw t0 = _mm256_hadd_ps(v[0], v[1]), t1 = _mm256_hadd_ps(v[2], v[3]);
  const Raw t2 = _mm256_hadd_ps(v[4], v[5]), t3 = _mm256_hadd_ps(v[6], v[7]);
  const Raw u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x21), _mm256_blend_ps(u0, u1, 0xF0));
}
template <int NR, class Op>
HWY_INLINE Raw Fold(Raw v, Op op) {
  v = op(v, _mm256_permute2f128_ps(v, v, 1));
  if constexpr (NR <= 2) v = op(v, _mm256_permute_ps(v, 0x4E));
  if constexpr (NR <= 1) v = op(v, _mm256_permute_ps(v, 0xB1));
  return v;
}
template <int NR>
HWY_INLINE Raw Pattern(const float* p) {
  if constexpr (NR == 4) {
    return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p));
  } else if constexpr (NR == 2) {
    double pair;
    std::memcpy(&pair, p, sizeof(pair));
    return _mm256_castpd_ps(_mm256_set1_pd(pair));
  } else {
    return _mm256_set1_ps(*p);
  }
}
#endif

constexpr int kLanes = static_cast<int>(sizeof(Raw) / sizeof(float));
HWY_INLINE VF Wrap(Raw r) { return VF{r}; }

/// A chunk is 2 * kLanes cache elements, loaded as two fp32 vectors (a, b).
/// bf16: the even elements in a, the odd ones in b (shift / mask of 32-bit
/// words); query rows and accumulators use the same order within a chunk.
struct LoadBF16 {
  static constexpr int kChunkBytes = 4 * kLanes;
  static constexpr bool kInterleaved = true;
  static HWY_INLINE void Load(const std::byte* p, VF& a, VF& b) {
    const DF d;
    const hn::RebindToUnsigned<DF> du;
    const auto x = hn::LoadU(du, reinterpret_cast<const std::uint32_t*>(p));
    a = hn::BitCast(d, hn::ShiftLeft<16>(x));
    b = hn::BitCast(d, hn::And(x, hn::Set(du, 0xFFFF0000u)));
  }
};
struct LoadF16 {
  static constexpr int kChunkBytes = 4 * kLanes;
  static constexpr bool kInterleaved = false;
  static HWY_INLINE void Load(const std::byte* p, VF& a, VF& b) {
    const DF d;
    const hn::Rebind<hwy::float16_t, DF> dh;
    const auto* h = reinterpret_cast<const hwy::float16_t*>(p);
    a = hn::PromoteTo(d, hn::LoadU(dh, h));
    b = hn::PromoteTo(d, hn::LoadU(dh, h + kLanes));
  }
};
struct LoadF32 {
  static constexpr int kChunkBytes = 8 * kLanes;
  static constexpr bool kInterleaved = false;
  static HWY_INLINE void Load(const std::byte* p, VF& a, VF& b) {
    const DF d;
    const auto* f = reinterpret_cast<const float*>(p);
    a = hn::LoadU(d, f);
    b = hn::LoadU(d, f + kLanes);
  }
};

/// Position in a chunk's (a, b) order of natural element e of the chunk.
template <class L>
HWY_INLINE int ChunkSlot(int e) {
  if constexpr (L::kInterleaved) return (e & 1) ? kLanes + (e >> 1) : (e >> 1);
  return e;
}

/// What a pass of query rows needs to know about the current tile.
/// Lines of whole cache rows to prefetch, a few at a time between compute steps.
struct PfCursor {
  const std::byte* rows[2 * 32];  ///< K and V rows of at most a tile (kDecodeTileKeys <= 32)
  int nrows = 0, bytes = 0, row = 0, off = 0;
  int per_step = 0;  ///< lines per P.V key step
  int per_qk = 0;    ///< lines per QK step (several keys)
  HWY_INLINE void Step(int lines) {
    for (int i = 0; i < lines && row < nrows; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(rows[row] + off), _MM_HINT_T0);
      off += 64;
      if (off >= bytes) {
        off = 0;
        ++row;
      }
    }
  }
};

struct Tile {
  PfCursor* pf = nullptr;
  const std::byte* const* k;  ///< per key (padded to whole score vectors): cache row of all KV heads
  const std::byte* const* v;
  std::ptrdiff_t head_offset;  ///< bytes from a cache row to this KV head
  int key0, nk, chunks, row_floats;
  bool full;                 ///< every key of the tile is visible (no mask)
  float lo, hi;              ///< visible keys [lo, hi) within the tile
  float pos;                 ///< position of the query token (ALiBi)
  float cap;                 ///< soft-cap (0 = off)
  float score_scale = 1.0f;  ///< applied to the scores (when the query rows are not pre-scaled)
};

#if HWY_TARGET <= HWY_AVX3
/// Scores of NR bf16 query rows (unscaled, natural order) against a tile of
/// bf16 keys with vdpbf16ps (AVX512_BF16: pairs of products summed in fp32,
/// 32 elements per instruction, no widening). Highway 1.0.3 has no target
/// with this instruction, hence the function's own target attribute.
template <int NR>
__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) void ScoresBF16Dot(const Tile& t, const float* q,
                                                                         float* HWY_RESTRICT sc) {
  constexpr int KP = kLanes / NR;
  const int nkp = (t.nk + KP - 1) / KP * KP;
  const std::byte* qb = reinterpret_cast<const std::byte*>(q);
  const std::ptrdiff_t qstride = static_cast<std::ptrdiff_t>(t.row_floats) * sizeof(float);
  for (int j = 0; j < nkp; j += KP) {
    Raw s[KP * NR];
    for (int i = 0; i < KP * NR; ++i) s[i] = _mm512_setzero_ps();
    const std::byte* kp[KP];
    for (int k = 0; k < KP; ++k) kp[k] = t.k[j + k] + t.head_offset;
    if (t.pf) t.pf->Step(t.pf->per_qk);
    for (int c = 0; c < t.chunks; ++c) {
      __m512i kr[KP];
      for (int k = 0; k < KP; ++k) kr[k] = _mm512_loadu_si512(kp[k] + c * 64);
      for (int r = 0; r < NR; ++r) {
        const __m512i qv = _mm512_loadu_si512(qb + r * qstride + c * 64);
        for (int k = 0; k < KP; ++k)
          s[k * NR + r] = _mm512_dpbf16_ps(s[k * NR + r], (__m512bh)qv, (__m512bh)kr[k]);
      }
    }
    _mm512_storeu_ps(sc + j * NR, ReduceAll(s));
  }
}
#endif

/// Scores, online softmax and P.V of NR query rows (NR | kLanes) against one
/// tile. q, acc: NR rows of row_floats; m, l: NR entries; slopes: NR ALiBi
/// slopes or null; sc: scratch of kTileKeys * NR + kLanes floats.
template <int NR, class L, bool DP = false>
HWY_INLINE void Rows(const Tile& t, const float* HWY_RESTRICT q, float* HWY_RESTRICT acc, float* m, float* l,
                     const float* slopes, float* HWY_RESTRICT sc) {
  const DF d;
  constexpr int KP = kLanes / NR;  // keys per score vector
  const int RF = t.row_floats;
  const int nkp = (t.nk + KP - 1) / KP * KP;
  // ---- S = Q K^T: KP keys x NR rows per step, reduced together ----
#if HWY_TARGET <= HWY_AVX3
  if constexpr (DP) ScoresBF16Dot<NR>(t, q, sc);
#endif
  for (int j = 0; j < (DP ? 0 : nkp); j += KP) {
    if (t.pf) t.pf->Step(t.pf->per_qk);
    VF s[KP * NR];
    for (int i = 0; i < KP * NR; ++i) s[i] = hn::Zero(d);
    const std::byte* kp[KP];
    for (int k = 0; k < KP; ++k) kp[k] = t.k[j + k] + t.head_offset;
    for (int c = 0; c < (DP ? 0 : t.chunks); ++c) {
      const float* qc = q + c * 2 * kLanes;
      if constexpr (NR >= 4) {
        VF ka[KP], kb[KP];
        for (int k = 0; k < KP; ++k) L::Load(kp[k] + c * L::kChunkBytes, ka[k], kb[k]);
        for (int r = 0; r < NR; ++r) {
          const VF qa = hn::LoadU(d, qc + r * RF), qb = hn::LoadU(d, qc + r * RF + kLanes);
          for (int k = 0; k < KP; ++k) {
            s[k * NR + r] = hn::MulAdd(qa, ka[k], s[k * NR + r]);
            s[k * NR + r] = hn::MulAdd(qb, kb[k], s[k * NR + r]);
          }
        }
      } else {
        VF qa[NR], qb[NR];
        for (int r = 0; r < NR; ++r) {
          qa[r] = hn::LoadU(d, qc + r * RF);
          qb[r] = hn::LoadU(d, qc + r * RF + kLanes);
        }
        for (int k = 0; k < KP; ++k) {
          VF ka, kb;
          L::Load(kp[k] + c * L::kChunkBytes, ka, kb);
          for (int r = 0; r < NR; ++r) {
            s[k * NR + r] = hn::MulAdd(qa[r], ka, s[k * NR + r]);
            s[k * NR + r] = hn::MulAdd(qb[r], kb, s[k * NR + r]);
          }
        }
      }
    }
    Raw raw[KP * NR];
    for (int i = 0; i < KP * NR; ++i) raw[i] = s[i].raw;
    hn::StoreU(Wrap(ReduceAll(raw)), d, sc + j * NR);  // lane k * NR + r: key j + k, row r
  }
  // ---- soft-cap, ALiBi, mask; online softmax on vectors of KP keys x NR rows ----
  const int nv = nkp / KP;
  alignas(64) static constexpr float kKeyOfLane[16] = {0 / NR,  1 / NR,  2 / NR,  3 / NR, 4 / NR,  5 / NR,
                                                       6 / NR,  7 / NR,  8 / NR,  9 / NR, 10 / NR, 11 / NR,
                                                       12 / NR, 13 / NR, 14 / NR, 15 / NR};
  const VF key_of_lane = hn::Load(d, kKeyOfLane);
  const VF neg_inf = hn::Set(d, kNegInf);
  VF vmax = neg_inf;
  const bool full = t.full && nkp == t.nk;
  if (t.cap > 0.0f || slopes || !full || t.score_scale != 1.0f) {
    const VF slope = slopes ? Wrap(Pattern<NR>(slopes)) : hn::Zero(d);
    for (int v = 0; v < nv; ++v) {
      VF x = hn::LoadU(d, sc + v * kLanes);
      if (t.score_scale != 1.0f) x = hn::Mul(x, hn::Set(d, t.score_scale));
      if (t.cap > 0.0f) x = hn::Mul(hn::Set(d, t.cap), hn::Tanh(d, hn::Mul(x, hn::Set(d, 1.0f / t.cap))));
      const VF kpos = hn::Add(hn::Set(d, static_cast<float>(t.key0 + v * KP)), key_of_lane);
      if (slopes) x = hn::MulAdd(slope, hn::Sub(kpos, hn::Set(d, t.pos)), x);
      if (!full)
        x = hn::IfThenElse(hn::And(hn::Ge(kpos, hn::Set(d, t.lo)), hn::Lt(kpos, hn::Set(d, t.hi))), x,
                           neg_inf);
      hn::StoreU(x, d, sc + v * kLanes);
      vmax = hn::Max(vmax, x);
    }
  } else {
    for (int v = 0; v < nv; ++v) vmax = hn::Max(vmax, hn::LoadU(d, sc + v * kLanes));
  }
  auto vmaxop = [](Raw a, Raw b) { return hn::Max(Wrap(a), Wrap(b)).raw; };
  auto vaddop = [](Raw a, Raw b) { return hn::Add(Wrap(a), Wrap(b)).raw; };
  const VF m_old = Wrap(Pattern<NR>(m));
  const VF m_new = hn::Max(m_old, Wrap(Fold<NR>(vmax.raw, vmaxop)));
  const VF lowest = hn::Set(d, -87.0f);
  // alpha = exp(m_old - m_new); 0 while no key was seen (m_old = -inf).
  const VF alpha =
      hn::IfThenElseZero(hn::Gt(m_old, neg_inf), hn::Exp(d, hn::Max(hn::Sub(m_old, m_new), lowest)));
  VF vsum = hn::Zero(d);
  for (int v = 0; v < nv; ++v) {
    const VF x = hn::LoadU(d, sc + v * kLanes);
    const VF p = hn::IfThenElseZero(hn::Gt(x, neg_inf), hn::Exp(d, hn::Max(hn::Sub(x, m_new), lowest)));
    hn::StoreU(p, d, sc + v * kLanes);
    vsum = hn::Add(vsum, p);
  }
  const VF l_new = hn::MulAdd(Wrap(Pattern<NR>(l)), alpha, Wrap(Fold<NR>(vsum.raw, vaddop)));
  alignas(64) float tmp[3][kLanes];
  hn::Store(m_new, d, tmp[0]);
  hn::Store(l_new, d, tmp[1]);
  hn::Store(alpha, d, tmp[2]);
  for (int r = 0; r < NR; ++r) {
    m[r] = tmp[0][r];
    l[r] = tmp[1][r];
  }
  // ---- O = alpha O + P V: CH chunks x NR rows of accumulators per pass ----
  auto pass = [&](auto ch_tag, int c) {
    constexpr int CH = decltype(ch_tag)::value;
    VF o[CH][NR][2];
    for (int h = 0; h < CH; ++h)
      for (int r = 0; r < NR; ++r) {
        const VF al = hn::Set(d, tmp[2][r]);
        const float* a = acc + r * RF + (c + h) * 2 * kLanes;
        o[h][r][0] = hn::Mul(hn::LoadU(d, a), al);
        o[h][r][1] = hn::Mul(hn::LoadU(d, a + kLanes), al);
      }
    for (int j = 0; j < t.nk; ++j) {
      if (t.pf) t.pf->Step(t.pf->per_step);
      const std::byte* vp = t.v[j] + t.head_offset + c * L::kChunkBytes;
      VF p[NR];
      for (int r = 0; r < NR; ++r) p[r] = hn::Set(d, sc[j * NR + r]);
      for (int h = 0; h < CH; ++h) {
        VF va, vb;
        L::Load(vp + h * L::kChunkBytes, va, vb);
        for (int r = 0; r < NR; ++r) {
          o[h][r][0] = hn::MulAdd(p[r], va, o[h][r][0]);
          o[h][r][1] = hn::MulAdd(p[r], vb, o[h][r][1]);
        }
      }
    }
    for (int h = 0; h < CH; ++h)
      for (int r = 0; r < NR; ++r) {
        float* a = acc + r * RF + (c + h) * 2 * kLanes;
        hn::StoreU(o[h][r][0], d, a);
        hn::StoreU(o[h][r][1], d, a + kLanes);
      }
  };
  constexpr int kMaxCH = (kLanes == 16 ? 8 : 4) / NR;  // 16 (AVX-512) or 8 (AVX2) accumulators
  int c = 0;
  if constexpr (kMaxCH >= 8)
    for (; c + 8 <= t.chunks; c += 8) pass(std::integral_constant<int, 8>{}, c);
  if constexpr (kMaxCH >= 4)
    for (; c + 4 <= t.chunks; c += 4) pass(std::integral_constant<int, 4>{}, c);
  if constexpr (kMaxCH >= 2)
    for (; c + 2 <= t.chunks; c += 2) pass(std::integral_constant<int, 2>{}, c);
  for (; c < t.chunks; ++c) pass(std::integral_constant<int, 1>{}, c);
}

/// Keys per tile of a decode item: 32 keys x 2 KiB rows (GQA 32/8, head 128,
/// bf16) = 64 KiB of K and of V, in L2. Smaller tiles cost softmax and
/// accumulator passes (16: 8% slower from cache, the same from DRAM; notes,
/// attempts 7 and 11).
constexpr int kDecodeTileKeys = 32;

/// P.V passes over the keys for NR rows and `chunks` chunks (mirrors Rows).
HWY_INLINE int PvPasses(int NR, int chunks) {
  const int max_ch = (kLanes == 16 ? 8 : 4) / NR;
  int passes = 0, c = 0;
  for (int ch = 8; ch >= 1; ch /= 2)
    if (ch <= max_ch)
      for (; c + ch <= chunks; c += ch) ++passes;
  return passes;
}

/// A decode item with the chunk loader L (the cache element type).
template <class L, bool DP = false>
HWY_INLINE void Item(const KernelArgs& a, const WorkItem& it, ThreadScratch& s, float* partials) {
  constexpr int TK = kDecodeTileKeys;
  const DF d;
  const int Dh = static_cast<int>(a.sizes.head_size);
  const int Hkv = static_cast<int>(a.sizes.num_kv_heads);
  const int G = static_cast<int>(a.sizes.num_heads) / Hkv;
  const int H = G * Hkv;
  const int RF = Dh;  // the fast path runs only for Dh % (2 * kLanes) == 0
  const int seq = a.seq_lens[it.req];
  const int W = a.sliding_window;
  const int pos = it.first_pos;
  const int lo = W > 0 ? std::max(0, pos - W + 1) : 0;
  const int hi = a.sizes.causal ? pos + 1 : (W > 0 ? std::min(seq, pos + W) : seq);
  const std::int64_t token = it.token_begin;
  // Query rows: fp32, scaled, in the loader's chunk order.
  float* nat = s.k_tile.data();
  for (int h = 0; h < H; ++h) {
    float* q = s.q.data() + static_cast<std::ptrdiff_t>(h) * RF;
    if constexpr (DP) {  // the bf16 query as is; the scale goes onto the scores
      std::memcpy(q, a.query.at(token, h, 0), static_cast<std::size_t>(Dh) * 2);
    } else {
      ToFloat(a.query.at(token, h, 0), a.query.dtype, Dh, nat, nullptr);
      for (int e = 0; e < Dh; ++e)
        q[(e / (2 * kLanes)) * 2 * kLanes + ChunkSlot<L>(e % (2 * kLanes))] = nat[e] * a.sizes.scale;
    }
    std::fill_n(s.acc.data() + static_cast<std::ptrdiff_t>(h) * RF, RF, 0.0f);
    s.m[h] = kNegInf;
    s.l[h] = 0.0f;
  }
  const std::int32_t* table = a.block_table + it.req * a.block_table_stride;
  const int bs = static_cast<int>(a.sizes.block_size);
  const std::ptrdiff_t head_stride = a.cache.strides[3] * a.cache.element_bytes;
  const int head_bytes = Dh * a.cache.element_bytes;
  const int row_bytes = static_cast<int>(head_stride * (Hkv - 1)) + head_bytes;
  const std::byte** cur_k = s.k_src.data();
  const std::byte** cur_v = s.v_src.data();
  const std::byte** nxt_k = s.k_src.data() + TK + kLanes;
  const std::byte** nxt_v = s.v_src.data() + TK + kLanes;
  // Row addresses of the tile at key0 (nk keys), padded with the last key to whole score vectors.
  auto gather = [&](int key0, int nk, const std::byte** kr, const std::byte** vr) {
    for (int j = 0; j < nk; ++j) {
      const int p = key0 + j;
      const std::int32_t block = table[p / bs];
      kr[j] = a.cache.at(0, block, p % bs, 0, 0);
      vr[j] = a.cache.at(1, block, p % bs, 0, 0);
    }
    for (int j = nk; j < TK + kLanes; ++j) {
      kr[j] = kr[nk - 1];
      vr[j] = vr[nk - 1];
    }
  };
  const int kb = it.key_begin, ke = it.key_end;
  if (kb < ke) {
    gather(kb, std::min(TK, ke - kb), cur_k, cur_v);
    for (int j = 0; j < std::min(TK, ke - kb); ++j) {
      Prefetch(cur_k[j], row_bytes);
      Prefetch(cur_v[j], row_bytes);
    }
  }
  const float* slopes_all = a.alibi_slopes;
  // Prefetch pacing: the next tile's rows are split among the KV heads; a
  // head's share (whole rows, address order) is issued a few lines per QK
  // step and per P.V key step, in proportion to their work, so the loads of
  // the compute never queue behind a burst of misses (notes, attempt 7).
  const int nr0 = G >= 4 ? 4 : (G >= 2 ? 2 : 1);
  const int share = (TK + Hkv - 1) / Hkv;
  const int share_lines = 2 * share * ((row_bytes + 63) / 64);
  const int pv_per_key = std::max(1, PvPasses(nr0, Dh / (2 * kLanes)));
  const int row_passes = (G + 3) / 4;
  const int lines_per_key = std::max(1, (share_lines + 2 * TK * row_passes - 1) / (2 * TK * row_passes));
  float* sc = s.scores.data();
  for (int key0 = kb; key0 < ke; key0 += TK) {
    const int nk = std::min(TK, ke - key0);
    const int next0 = key0 + TK;
    const int nk_next = std::min(TK, ke - next0);
    if (nk_next > 0) gather(next0, nk_next, nxt_k, nxt_v);
    Tile t;
    t.k = cur_k;
    t.v = cur_v;
    t.key0 = key0;
    t.nk = nk;
    t.chunks = Dh / (2 * kLanes);
    t.row_floats = RF;
    t.lo = static_cast<float>(std::max(lo, key0));
    t.hi = static_cast<float>(std::min(hi, key0 + nk));
    t.full = nk == TK && lo <= key0 && hi >= key0 + nk;
    t.pos = static_cast<float>(pos);
    t.cap = a.logits_soft_cap;
    t.score_scale = DP ? a.sizes.scale : 1.0f;
    for (int g = 0; g < Hkv; ++g) {
      // This head's share of the next tile's rows, paced by Rows.
      PfCursor cursor;
      cursor.bytes = row_bytes;
      for (int j = g * share; j < std::min(nk_next, (g + 1) * share); ++j) {
        cursor.rows[cursor.nrows++] = nxt_k[j];
        cursor.rows[cursor.nrows++] = nxt_v[j];
      }
      cursor.per_qk = lines_per_key * (kLanes / nr0);
      cursor.per_step = (lines_per_key + pv_per_key - 1) / pv_per_key;
      t.pf = cursor.nrows > 0 ? &cursor : nullptr;
      t.head_offset = g * head_stride;
      int r = g * G;
      const int end = r + G;
      for (; r + 4 <= end; r += 4)
        Rows<4, L, DP>(t, s.q.data() + static_cast<std::ptrdiff_t>(r) * RF,
                       s.acc.data() + static_cast<std::ptrdiff_t>(r) * RF, s.m.data() + r, s.l.data() + r,
                       slopes_all ? slopes_all + r : nullptr, sc);
      if (r + 2 <= end) {
        Rows<2, L, DP>(t, s.q.data() + static_cast<std::ptrdiff_t>(r) * RF,
                       s.acc.data() + static_cast<std::ptrdiff_t>(r) * RF, s.m.data() + r, s.l.data() + r,
                       slopes_all ? slopes_all + r : nullptr, sc);
        r += 2;
      }
      if (r < end)
        Rows<1, L, DP>(t, s.q.data() + static_cast<std::ptrdiff_t>(r) * RF,
                       s.acc.data() + static_cast<std::ptrdiff_t>(r) * RF, s.m.data() + r, s.l.data() + r,
                       slopes_all ? slopes_all + r : nullptr, sc);
      if (t.pf) t.pf->Step(1 << 30);
    }
    std::swap(cur_k, nxt_k);
    std::swap(cur_v, nxt_v);
  }
  (void)d;
  // Rows back to natural order, then the output or this split's partial.
  for (int h = 0; h < H; ++h) {
    const float* acc = s.acc.data() + static_cast<std::ptrdiff_t>(h) * RF;
    for (int e = 0; e < Dh; ++e)
      nat[e] = acc[(e / (2 * kLanes)) * 2 * kLanes + ChunkSlot<L>(e % (2 * kLanes))];
    if (it.num_splits == 1) {
      WriteOutput(a, token, h, s.m[h], s.l[h], nat, Dh);
    } else {
      float* p = partials + it.partial_offset + static_cast<std::ptrdiff_t>(h) * (Dh + 2);
      p[0] = s.m[h];
      p[1] = s.l[h];
      std::memcpy(p + 2, nat, static_cast<std::size_t>(Dh) * sizeof(float));
    }
  }
}

#if HWY_TARGET <= HWY_AVX3
/// bf16 cache and query on a CPU with AVX512_BF16 (vdpbf16ps), which
/// Highway 1.0.3 has no target for: the scores use the instruction directly.
__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) void ItemBF16Dot(const KernelArgs& a,
                                                                       const WorkItem& it, ThreadScratch& s,
                                                                       float* partials) {
  Item<LoadBF16, true>(a, it, s, partials);
}
inline bool HasBF16Dot() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}
#endif

}  // namespace decode
#endif  // ATTNREG_CPU_DECODE_FAST

#if ATTNREG_CPU_BF16_DOT
__attribute__((target(HWY_TARGET_STR ",avx512bf16"))) static void ScoresRows4BF16DotImpl(
    const std::byte* const* q, const std::byte* const* k, int nk, int chunks, float scale, float* sc) {
  const __m512 vscale = _mm512_set1_ps(scale);
  for (int j = 0; j < nk; j += 4) {
    __m512 acc[16];
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
    for (int c = 0; c < chunks; ++c) {
      __m512i kr[4];
      for (int kk = 0; kk < 4; ++kk) kr[kk] = _mm512_loadu_si512(k[j + kk] + c * 64);
      for (int r = 0; r < 4; ++r) {
        const __m512i qv = _mm512_loadu_si512(q[r] + c * 64);
        for (int kk = 0; kk < 4; ++kk)
          acc[kk * 4 + r] = _mm512_dpbf16_ps(acc[kk * 4 + r], (__m512bh)qv, (__m512bh)kr[kk]);
      }
    }
    alignas(64) float out[16];  // lane kk * 4 + r
    _mm512_store_ps(out, _mm512_mul_ps(decode::ReduceAll(acc), vscale));
    for (int kk = 0; kk < 4 && j + kk < nk; ++kk)
      for (int r = 0; r < 4; ++r) sc[r * kTileKeys + j + kk] = out[kk * 4 + r];
  }
}

void ScoresRows4BF16Dot(const std::byte* const* q, const std::byte* const* k, int nk, int chunks, float scale,
                        float* sc) {
  ScoresRows4BF16DotImpl(q, k, nk, chunks, scale, sc);
}

bool UseBF16Dot(const KernelArgs& a) {
  return a.cache.dtype == ScalarType::BFloat16 && a.query.dtype == ScalarType::BFloat16 &&
         a.query.strides[2] == 1 && a.cache.strides[4] == 1 && a.sizes.head_size % 32 == 0 &&
         decode::HasBF16Dot();
}
#endif

/// Runs a decode item (kv_head = -1): the fast path where this target and the
/// cache type allow it, else the general kernel once per KV head.
void ProcessDecodeItem(const KernelArgs& a, const WorkItem& it, ThreadScratch& s, float* partials) {
#if ATTNREG_CPU_DECODE_FAST
  const int Dh = static_cast<int>(a.sizes.head_size);
  if (Dh % (2 * decode::kLanes) == 0 && a.cache.strides[4] == 1) {
    switch (a.cache.dtype) {
      case ScalarType::BFloat16:
#if HWY_TARGET <= HWY_AVX3
        if (a.query.dtype == ScalarType::BFloat16 && a.query.strides[2] == 1 && decode::HasBF16Dot())
          return decode::ItemBF16Dot(a, it, s, partials);
#endif
        return decode::Item<decode::LoadBF16>(a, it, s, partials);
      case ScalarType::Float16:
        return decode::Item<decode::LoadF16>(a, it, s, partials);
      case ScalarType::Float32:
        return decode::Item<decode::LoadF32>(a, it, s, partials);
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

/// Query tokens per work item for a KV group of `group` heads.
int tokens_per_item(int group) { return std::max(1, kMaxItemRows / group); }

/// Fills workspace.items / merge_groups and sizes the partial buffer.
/// Requests with one query token get decode items (all KV heads of a key
/// range, kv_head = -1), split until there are about kDecodeItemsPerThread
/// items per thread; the others get one item per (KV head, query block),
/// split when the batch gives fewer than 4 items per thread.
void plan(const KernelArgs& a, Workspace& ws, int threads) {
  const auto& z = a.sizes;
  const int group = static_cast<int>(z.num_heads / z.num_kv_heads);
  const int qb = tokens_per_item(group);
  const int Dh = static_cast<int>(z.head_size);
  const int W = a.sliding_window;
  std::int64_t base = 0, units = 0;
  for (std::int64_t r = 0; r < z.num_reqs; ++r) {
    const int qlen = a.query_start_loc[r + 1] - a.query_start_loc[r];
    base += z.num_kv_heads * ((qlen + qb - 1) / qb);
    units += qlen == 1 ? 1 : z.num_kv_heads * ((qlen + qb - 1) / qb);
  }
  ws.items.clear();
  ws.merge_groups.clear();
  std::int64_t partial_floats = 0;
  // Items for keys [klo, khi) cut into `splits` tile-aligned ranges.
  auto add = [&](WorkItem proto, int klo, int khi, int splits, int rows) {
    const int chunk =
        std::max(kTileKeys, ((khi - klo + splits - 1) / splits + kTileKeys - 1) / kTileKeys * kTileKeys);
    if (splits > 1) ws.merge_groups.push_back(static_cast<std::int32_t>(ws.items.size()));
    const int first_item = static_cast<int>(ws.items.size());
    int k0 = klo;
    do {
      WorkItem it = proto;
      it.key_begin = k0;
      it.key_end = std::min(khi, k0 + chunk);
      if (splits > 1) {
        it.partial_offset = partial_floats;
        partial_floats += static_cast<std::int64_t>(rows) * (Dh + 2);
      }
      ws.items.push_back(it);
      k0 += chunk;
    } while (k0 < khi);
    // Rounding the chunk to whole tiles can leave fewer splits than asked.
    const int made = static_cast<int>(ws.items.size()) - first_item;
    for (int i = first_item; i < first_item + made; ++i) ws.items[i].num_splits = made;
    if (splits > 1 && made == 1) {
      ws.merge_groups.pop_back();
      ws.items.back().partial_offset = -1;
      partial_floats -= static_cast<std::int64_t>(rows) * (Dh + 2);
    }
  };
  for (std::int64_t r = 0; r < z.num_reqs; ++r) {
    const int begin = a.query_start_loc[r];
    const int qlen = a.query_start_loc[r + 1] - begin;
    const int seq = a.seq_lens[r];
    if (qlen == 1) {
      const int pos = seq - 1;
      const int klo = W > 0 ? std::max(0, pos - W + 1) : 0;
      const int khi = z.causal ? pos + 1 : (W > 0 ? std::min(seq, pos + W) : seq);
      const auto want = static_cast<int>((kDecodeItemsPerThread * threads + units - 1) / units);
      const int splits = std::max(1, std::min(want, (khi - klo) / kMinDecodeSplitKeys));
      WorkItem it;
      it.req = static_cast<std::int32_t>(r);
      it.kv_head = -1;
      it.token_begin = begin;
      it.num_tokens = 1;
      it.first_pos = pos;
      add(it, klo, std::max(klo, khi), splits, static_cast<int>(z.num_heads));
      continue;
    }
    for (int g = 0; g < z.num_kv_heads; ++g) {
      for (int tb = 0; tb < qlen; tb += qb) {
        const int n = std::min(qb, qlen - tb);
        const int first = seq - qlen + tb, last = first + n - 1;
        const int klo = W > 0 ? std::max(0, first - W + 1) : 0;
        const int khi = z.causal ? last + 1 : (W > 0 ? std::min(seq, last + W) : seq);
        int splits = 1;
        if (base < 4 * threads) {
          const auto want = static_cast<int>((4 * threads + base - 1) / base);
          splits = std::max(1, std::min(want, (khi - klo) / kMinSplitKeys));
        }
        if (n * group <= 8) splits = std::max(splits, (khi - klo) / kLocalityChunkKeys);
        WorkItem it;
        it.req = static_cast<std::int32_t>(r);
        it.kv_head = g;
        it.token_begin = begin + tb;
        it.num_tokens = n;
        it.first_pos = first;
        add(it, klo, khi, splits, n * group);
      }
    }
  }
  ws.order.resize(ws.items.size());
  for (std::size_t i = 0; i < ws.order.size(); ++i) ws.order[i] = static_cast<std::int32_t>(i);
  std::sort(ws.order.begin(), ws.order.end(), [&](std::int32_t x, std::int32_t y) {
    const WorkItem &a_ = ws.items[x], &b_ = ws.items[y];
    if (a_.req != b_.req) return a_.req < b_.req;
    if (a_.key_begin != b_.key_begin) return a_.key_begin < b_.key_begin;
    return x < y;  // same range: KV heads (and query blocks) in creation order
  });
  if (static_cast<std::int64_t>(ws.partials.size()) < partial_floats)
    ws.partials.resize(static_cast<std::size_t>(partial_floats));
}

/// Grows each thread's scratch to the sizes of this call.
void size_scratch(const KernelArgs& a, Workspace& ws, int threads) {
  const int group = static_cast<int>(a.sizes.num_heads / a.sizes.num_kv_heads);
  const auto rows = static_cast<std::size_t>(
      std::max<std::int64_t>(tokens_per_item(group) * group, a.sizes.num_heads));  // decode items: all heads
  const auto Dh = static_cast<std::size_t>(a.sizes.head_size);
  if (ws.threads.size() < static_cast<std::size_t>(threads))
    ws.threads.resize(static_cast<std::size_t>(threads));
  auto grow = [](auto& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
  };
  for (auto& s : ws.threads) {
    grow(s.q, rows * Dh);
    grow(s.acc, rows * Dh);
    grow(s.m, rows);
    grow(s.l, rows);
    grow(s.lo, rows);
    grow(s.hi, rows);
    grow(s.active, rows);
    grow(s.scores, 4 * kTileKeys + 16);
    grow(s.k_tile, kTileKeys * Dh);
    grow(s.v_tile, kTileKeys * Dh);
    grow(s.k_rows, kTileKeys);
    grow(s.v_rows, kTileKeys);
    grow(s.k_src, 2 * (kTileKeys + 16));
    grow(s.v_src, 2 * (kTileKeys + 16));
  }
}

}  // namespace

void run_attention(const KernelArgs& args, Workspace& ws) {
  init_dispatch();
  const int threads = omp_get_max_threads();
  plan(args, ws, threads);
  size_scratch(args, ws, threads);
  auto* process = &HWY_DYNAMIC_DISPATCH(ProcessItem);
  auto* process_decode = &HWY_DYNAMIC_DISPATCH(ProcessDecodeItem);
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
