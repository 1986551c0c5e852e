// The work items of one KV head (kv_head >= 0: prefill chunks, and decodes
// the all-heads fast path does not take): the row kernels over gathered
// tiles, the item loop, the output write and the merge of split items.
// Part of attention_kernel.cpp, which includes it inside its per-target
// namespace once for each target foreach_target.h compiles, after the files
// it builds on (see the include list there). No include guard, by design:
// each target pass needs it.

/// Per-item constants the row kernels need.
struct ItemContext {
  const KernelArgs* args;
  const WorkItem* item;
  int head_size, group;
  bool dot = false;        ///< vdpbf16ps: scores from the raw query and bf16 key rows (s.k_src), P.V from
                           ///< the value rows paired in s.v_tile (PairRowsBF16)
  bool dot_fp8 = false;    ///< with dot: an fp8 cache, its rows widened to bf16 (Fp8RowsToBf16)
  float dot_scale = 1.0f;  ///< with dot: the scores' scale (the softmax scale, times k_scale for fp8)
  float pv_scale = 1.0f;   ///< with dot: P's factor in P.V (v_scale for fp8, whose rows widen unscaled)
  bool query_f16 = false;  ///< with dot: an fp16 query, its rows rounded to bf16 into s.q (ProcessItem)
};

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
  if (c.dot) {  // 4 rows at a time: a pass of fewer repeats its last row, whose extra scores go unused
    const std::byte* qp[4];
    for (int r = 0; r < 4; ++r) {
      const int row = rows[std::min(r, NR - 1)];
      qp[r] =
          c.query_f16
              ? reinterpret_cast<const std::byte*>(s.q.data() + static_cast<std::ptrdiff_t>(row) * Dh)
              : a.query.at(c.item->token_begin + row / c.group, c.item->kv_head * c.group + row % c.group, 0);
    }
    ScoresRows4BF16Dot(qp, reinterpret_cast<const std::byte*>(s.k_pairs.data()), nk, Dh, c.dot_scale,
                       s.scores.data());
    j = nk;
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
      const VF p = SoftmaxWeight(d, x, vm);
      hn::StoreU(p, d, sc[r] + jv);
      vsum = hn::Add(vsum, p);
    }
    s.l[row] = s.l[row] * alpha[r] + hn::GetLane(hn::SumOfLanes(d, vsum));
    s.m[row] = m_new;
  }
#if ATTNREG_CPU_BF16_DOT
  if (c.dot) {  // V as bf16 key pairs (ProcessItem), two keys per vdpbf16ps; rows past NR go to a sink
    float* acc4[4];
    float alpha4[4];
    for (int r = 0; r < 4; ++r) {
      acc4[r] = r < NR ? acc[r] : s.pv_sink.data();
      alpha4[r] = r < NR ? alpha[r] : 0.0f;
    }
    PvRows4BF16Dot(s.scores.data(), alpha4, acc4, reinterpret_cast<const std::byte*>(s.v_tile.data()), nk, Dh,
                   c.pv_scale);
    return;
  }
#endif
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
  ItemContext ctx{&a, &it, Dh, group};
#if ATTNREG_CPU_BF16_DOT
  ctx.dot = UseBF16Dot(a);
  ctx.query_f16 = ctx.dot && a.query.dtype == ScalarType::Float16;
  ctx.dot_fp8 = a.cache.dtype == ScalarType::Float8_E4M3;
  ctx.dot_scale = a.sizes.scale * (ctx.dot_fp8 ? a.k_scale : 1.0f);
  ctx.pv_scale = ctx.dot_fp8 ? a.v_scale : 1.0f;
#endif
  const VF scale = hn::Set(d, a.sizes.scale);
  for (int row = 0; row < rows; ++row) {
    const std::int64_t token = it.token_begin + row / group;
    const int head = it.kv_head * group + row % group;
    float* q = s.q.data() + static_cast<std::ptrdiff_t>(row) * Dh;
    if (!ctx.dot) {  // fp32 query rows, scaled (the vdpbf16ps scores read a bf16 query as it is)
      ToFloat(a.query.at(token, head, 0), a.query.dtype, Dh, q, nullptr);
      for (int i = 0; i < Dh; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, q + i), scale), d, q + i);
    } else if (ctx.query_f16) {  // an fp16 query rounded to bf16, as the fp8 decode does (notes, attempt 78)
      const auto* src = reinterpret_cast<const std::uint16_t*>(a.query.at(token, head, 0));
      auto* dst = reinterpret_cast<std::uint16_t*>(q);
      for (int e = 0; e < Dh; ++e) dst[e] = Fp16ToBf16(src[e]);
    }
    std::fill_n(s.acc.data() + static_cast<std::ptrdiff_t>(row) * Dh, Dh, 0.0f);
    s.m[row] = kNegInf;
    s.l[row] = 0.0f;
    const int pos = it.first_pos + row / group;
    s.lo[row] = W > 0 ? std::max(0, pos - W + 1) : 0;
    s.hi[row] = a.sizes.causal ? pos + 1 : (W > 0 ? std::min(seq, pos + W) : seq);
  }
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
      if (ctx.dot) {  // scores and P.V from the bf16 rows (fp8: widened below)
        s.k_src[j] = k;
        s.v_src[j] = v;
      } else if (direct) {
        s.k_rows[j] = reinterpret_cast<const float*>(k);
        s.v_rows[j] = reinterpret_cast<const float*>(v);
      } else {
        float* kt = s.k_tile.data() + static_cast<std::ptrdiff_t>(j) * Dh;
        float* vt = s.v_tile.data() + static_cast<std::ptrdiff_t>(j) * Dh;
        ToFloat(k, a.cache.dtype, Dh, kt, a.fp8_k_lut, a.k_scale);
        ToFloat(v, a.cache.dtype, Dh, vt, a.fp8_v_lut, a.v_scale);
        s.k_rows[j] = kt;
        s.v_rows[j] = vt;
      }
    }
#if ATTNREG_CPU_BF16_DOT
    if (ctx.dot) {
      if (ctx.dot_fp8) {  // both halves of k_tile: kTileKeys bf16 rows each
        auto* widened = reinterpret_cast<std::byte*>(s.k_tile.data());
        Fp8RowsToBf16(s.k_src.data(), nk, Dh, widened);
        Fp8RowsToBf16(s.v_src.data(), nk, Dh, widened + static_cast<std::ptrdiff_t>(kTileKeys) * Dh * 2);
      }
      for (int j = nk; j < kTileKeys; ++j) s.k_src[j] = s.k_src[nk - 1];
      PackKeysBF16(s.k_src.data(), nk, Dh, reinterpret_cast<std::byte*>(s.k_pairs.data()));
      PairRowsBF16(s.v_src.data(), nk, Dh, reinterpret_cast<std::byte*>(s.v_tile.data()));
    }
#endif
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
