// The all-heads decode path of CPU_ATTN (see the block comment below), per
// Highway target: the row passes over a tile and the item loop. Part of
// attention_kernel.cpp, which includes it inside its per-target namespace
// once for each target foreach_target.h compiles, after the files it builds
// on (decode_tile-inl.h, decode_bf16_dot-inl.h, and WriteOutput of
// kv_head_item-inl.h). No include guard, by design: each target pass needs it.

// ---------------------------------------------------------------------------
// Decode items (kv_head = -1): one query token against every KV head of a key
// range. Per tile of keys and per KV head, the group's query rows (in
// registers-sized passes of 4, 2 or 1 rows) compute their scores straight
// from the cache (16-bit or fp8, widened in registers, no scratch copy), several
// keys' accumulators are reduced together into one vector of scores, the
// softmax runs on those vectors, and P.V reads each V row once per pass.
// The cache rows of a tile (all heads of a slot, contiguous) are prefetched
// one tile ahead, so memory is read in whole rows; in a layout whose heads
// are not back to back (one head's rows together), each head's segments.
// ---------------------------------------------------------------------------

#if ATTNREG_CPU_DECODE_FAST
namespace decode {

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
  if constexpr (DP && std::is_same_v<L, LoadFP8>) ScoresFP8Dot<NR>(t, q, sc);
  if constexpr (DP && !std::is_same_v<L, LoadFP8>) ScoresBF16Dot<NR>(t, q, sc);
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
      hn::IfThenElseZero(hn::Gt(m_old, neg_inf), SoftmaxExp(d, hn::Max(hn::Sub(m_old, m_new), lowest)));
  VF vsum = hn::Zero(d);
  for (int v = 0; v < nv; ++v) {
    const VF x = hn::LoadU(d, sc + v * kLanes);
    const VF p = SoftmaxWeight(d, x, m_new);
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
#if HWY_TARGET <= HWY_AVX3
  if constexpr (DP && std::is_same_v<L, LoadFP8>) return PvFP8Dot<NR>(t, sc, acc, tmp[2]);
#endif
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
      if (t.pf) t.pf->Step(j & 1 ? t.pf->per_pair - t.pf->per_pair / 2 : t.pf->per_pair / 2);
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
  // Query rows: fp32, scaled, in the loader's chunk order. An fp8 cache's
  // widened keys and values are their e4m3 values / kUnscale (LoadFP8): its
  // scales and kUnscale go onto the query rows and the output.
  constexpr bool kFp8 = std::is_same_v<L, LoadFP8>;
  const float q_scale = kFp8 ? a.sizes.scale * (a.k_scale * LoadFP8::kUnscale) : a.sizes.scale;
  const float out_scale = kFp8 ? a.v_scale * (DP ? 1.0f : LoadFP8::kUnscale) : 1.0f;  // PvFP8Dot's are exact
  float* nat = s.k_tile.data();
  for (int h = 0; h < H; ++h) {
    float* q = s.q.data() + static_cast<std::ptrdiff_t>(h) * RF;
    if constexpr (DP && kFp8) {  // the query as bf16 in Fp8ToBf16's order; the scales go onto the scores
      const auto* src = reinterpret_cast<const std::uint16_t*>(a.query.at(token, h, 0));
      auto* dst = reinterpret_cast<std::uint16_t*>(q);
      const bool f16 = a.query.dtype == ScalarType::Float16;  // rounded to bf16, as P is (ItemFP8Dot)
      for (int e = 0; e < Dh; ++e) dst[e / 64 * 64 + Fp8Bf16Slot(e % 64)] = f16 ? Fp16ToBf16(src[e]) : src[e];
    } else if constexpr (DP) {  // the bf16 query as is; the scale goes onto the scores
      const int i = h % G;      // row within its KV group
      if (i < G / 4 * 4) {      // a pass of 4 rows: row pairs, see ScoresBF16DotPairs
        const int pair = i % 4 / 2;
        auto* dst =
            reinterpret_cast<std::byte*>(s.q.data() + static_cast<std::ptrdiff_t>(h - i % 4 + pair) * RF) +
            i % 2 * 32;
        const std::byte* src = a.query.at(token, h, 0);
        for (int e = 0; e < Dh / 16; ++e) std::memcpy(dst + e * 64, src + e * 32, 32);
      } else {
        std::memcpy(q, a.query.at(token, h, 0), static_cast<std::size_t>(Dh) * 2);
      }
    } else {
      ToFloat(a.query.at(token, h, 0), a.query.dtype, Dh, nat, nullptr);
      for (int e = 0; e < Dh; ++e)
        q[(e / (2 * kLanes)) * 2 * kLanes + ChunkSlot<L>(e % (2 * kLanes))] = nat[e] * q_scale;
    }
    std::fill_n(s.acc.data() + static_cast<std::ptrdiff_t>(h) * RF, RF, 0.0f);
    s.m[h] = kNegInf;
    s.l[h] = 0.0f;
  }
  const std::int32_t* table = a.block_table + it.req * a.block_table_stride;
  const int bs = static_cast<int>(a.sizes.block_size);
  const std::ptrdiff_t head_stride = a.cache.strides[3] * a.cache.element_bytes;
  const int head_bytes = Dh * a.cache.element_bytes;
  // A slot's KV heads are prefetched as one span of the row when they lie
  // (nearly) back to back, as in the [.., block_size, Hkv, D] layout; in
  // other layouts (e.g. one head's rows together, "HND") the span would be
  // mostly other slots' rows, so each head's segment is prefetched alone:
  // spans of 29 KB per key made an HND-strided bf16 decode 5x slower.
  const bool heads_packed = head_stride < 2 * head_bytes;
  const int row_bytes = heads_packed ? static_cast<int>(head_stride * (Hkv - 1)) + head_bytes : head_bytes;
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
    const int spans = heads_packed ? 1 : Hkv;  // prefetched spans of row_bytes per slot
    for (int j = 0; j < std::min(TK, ke - kb); ++j)
      for (int g = 0; g < spans; ++g) {
        Prefetch(cur_k[j] + g * head_stride, row_bytes);
        Prefetch(cur_v[j] + g * head_stride, row_bytes);
      }
  }
  const float* slopes_all = a.alibi_slopes;
  // Prefetch pacing: the next tile's rows are split among the KV heads; a
  // head's share (whole rows, address order) is issued a few lines per QK
  // step and per P.V key step, so the loads of the compute never queue
  // behind a burst of misses (notes, attempt 7).
  // With two or more KV heads, the first half of the heads take the next
  // tile's K rows and the second half its V rows, so memory is read as one
  // contiguous run of K, then one of V, instead of alternating between the
  // K and V caches every row (notes, attempt 29); one KV head keeps K, V, K, ...
  const int nr0 = G >= 4 ? 4 : (G >= 2 ? 2 : 1);
  const int k_heads = Hkv >= 2 ? Hkv / 2 : 1;
  const int v_heads = Hkv - k_heads;
  const int k_share = (TK + k_heads - 1) / k_heads;
  const int v_share = v_heads > 0 ? (TK + v_heads - 1) / v_heads : 0;
  const int share_rows = Hkv >= 2 && heads_packed ? std::max(k_share, v_share) : 2 * TK;
  const int share_lines = share_rows * ((row_bytes + 63) / 64);
  const int pv_per_key = std::max(1, PvPasses(nr0, Dh / (2 * kLanes)));
  const int row_passes = (G + 3) / 4;
  // The share's part in the score steps: a quarter for 16-bit caches, whose
  // P.V steps take the rest later than their part of the work (1-4% faster
  // from DRAM than half and half on the Zen 4), half for the others (fp8: 4%
  // slower with a quarter); issuing earlier is slower (lines in the softmax;
  // notes, 83-84).
  constexpr bool k16Bit = std::is_same_v<L, LoadBF16> || std::is_same_v<L, LoadF16>;
  constexpr int kQkParts = k16Bit ? 4 : 2;
  const int qk_steps = row_passes * (TK / (kLanes / nr0));
  const int pv_steps = row_passes * pv_per_key * TK;
  const int per_qk = ((share_lines + kQkParts - 1) / kQkParts + qk_steps - 1) / qk_steps;
  const int per_pair = (2 * std::max(0, share_lines - per_qk * qk_steps) + pv_steps - 1) / pv_steps;
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
    t.score_scale = DP ? a.sizes.scale * (kFp8 ? a.k_scale : 1.0f) : 1.0f;
    for (int g = 0; g < Hkv; ++g) {
      // This head's share of the next tile's rows, paced by Rows.
      PfCursor cursor;
      cursor.bytes = row_bytes;
      if (!heads_packed) {  // this head's own segments: its K rows of the tile, then its V rows
        for (int j = 0; j < nk_next; ++j) cursor.rows[cursor.nrows++] = nxt_k[j] + g * head_stride;
        for (int j = 0; j < nk_next; ++j) cursor.rows[cursor.nrows++] = nxt_v[j] + g * head_stride;
      } else if (Hkv == 1) {
        for (int j = 0; j < nk_next; ++j) {
          cursor.rows[cursor.nrows++] = nxt_k[j];
          cursor.rows[cursor.nrows++] = nxt_v[j];
        }
      } else if (g < k_heads) {
        for (int j = g * k_share; j < std::min(nk_next, (g + 1) * k_share); ++j)
          cursor.rows[cursor.nrows++] = nxt_k[j];
      } else {
        const int gv = g - k_heads;
        for (int j = gv * v_share; j < std::min(nk_next, (gv + 1) * v_share); ++j)
          cursor.rows[cursor.nrows++] = nxt_v[j];
      }
      cursor.per_qk = per_qk;
      cursor.per_pair = per_pair;
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
    if constexpr (DP && kFp8)
      FromFp8PairOrder(s.acc.data() + static_cast<std::ptrdiff_t>(h) * RF, nat, Dh);
    else
      ToNatural<L>(s.acc.data() + static_cast<std::ptrdiff_t>(h) * RF, nat, Dh);
    if constexpr (kFp8)
      for (int e = 0; e < Dh; e += kLanes)
        hn::StoreU(hn::Mul(hn::LoadU(d, nat + e), hn::Set(d, out_scale)), d, nat + e);
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
/// fp8 cache and bf16 query on a CPU that also has AVX512_VBMI (vpermi2b):
/// fp8 widened to bf16 in registers, the scores (ScoresFP8Dot) and P.V
/// (PvFP8Dot) in vdpbf16ps. An fp16 query is rounded to bf16 for the
/// scores, as P is for P.V: the two roundings add errors of the same size
/// (2^-9 relative), 0.0004 in `attnreg run --check` against 0.00006 with the
/// fp32 FMAs of LoadFP8, far inside what the fp8 cache's 2^-4 steps allow,
/// for 1.3x the speed (notes, attempt 70).
__attribute__((target(HWY_TARGET_STR ",avx512bf16,avx512vbmi"))) void ItemFP8Dot(const KernelArgs& a,
                                                                                 const WorkItem& it,
                                                                                 ThreadScratch& s,
                                                                                 float* partials) {
  Item<LoadFP8, true>(a, it, s, partials);
}
#endif

}  // namespace decode
#endif  // ATTNREG_CPU_DECODE_FAST
