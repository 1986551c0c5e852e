// stream_model: a one-core model of the memory side of the CPU_ATTN decode
// kernel (docs/notes/cpu_attn.md, attempt 21). Not built by CMake:
//
//   g++ -O2 -march=native -o /tmp/stream_model bench/cpu_attn/stream_model.cpp
//   /tmp/stream_model ORDER FMAS DIST HINT
//
// A 512 MiB buffer is read in tiles of 128 KiB (64 cache rows of 2 KiB, as
// 32 keys of K and of V for GQA 32/8, head 128, bf16). Each tile takes 1024
// steps; a step demand-loads 2 lines of the current tile, issues 2 software
// prefetches of the tile DIST tiles ahead (DIST 0: no prefetch) and runs FMAS
// fp32 FMAs (16 lanes, 8 independent chains) standing in for the compute.
//   ORDER 0: the current tile's lines in address order;
//   ORDER 1: the kernel's order, KV head by KV head (for each of 8 heads, the
//            head's 256 bytes of every row, rows in order);
//   ORDER 2: windows of 4 rows (8 KiB) in order, head by head within a window
//            (attempt 24's address-order kernel).
//   HINT 0: T0, 1: T2, 2: NTA.
// Prints the rate at which the tiles were consumed (best of 3 passes).
#include <immintrin.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr std::size_t kBuf = std::size_t{512} << 20, kTile = 128 << 10, kLines = kTile / 64;

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <int kHint>
void Prefetch2(const char* p) {
  _mm_prefetch(p, static_cast<_mm_hint>(kHint));
  _mm_prefetch(p + 64, static_cast<_mm_hint>(kHint));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s ORDER FMAS DIST HINT\n", argv[0]);
    return 1;
  }
  const int order = std::atoi(argv[1]), fmas = std::atoi(argv[2]), dist = std::atoi(argv[3]);
  const int hint = std::atoi(argv[4]);
  auto* buf = static_cast<char*>(std::aligned_alloc(4096, kBuf));
  std::memset(buf, 1, kBuf);
  static int off[kLines];
  for (int i = 0; i < static_cast<int>(kLines); ++i) {
    const int g = i / 256, r = (i % 256) / 4, c = i % 4;  // head g, row r, line c of the head's 256 bytes
    // ORDER 2: windows of 4 rows (8 KiB), head by head within a window.
    const int w = i / 128, wg = (i % 128) / 16, wr = (i % 16) / 4;
    off[i] = order == 0   ? i * 64
             : order == 1 ? r * 2048 + g * 256 + c * 64
                          : w * 8192 + wr * 2048 + wg * 256 + c * 64;
  }
  const __m512 m = _mm512_set1_ps(0.999f), add = _mm512_set1_ps(0.001f);
  __m512 out = _mm512_setzero_ps();
  __m512i sink = _mm512_setzero_si512();
  double best = 1e9;
  for (int pass = 0; pass < 3; ++pass) {
    __m512 a0 = _mm512_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    const double t0 = now();
    for (std::size_t t = 0; t + kTile <= kBuf; t += kTile) {
      const char* cur = buf + t;
      const char* pf = buf + t + dist * kTile;
      const char* pf_end = dist > 0 && t + (dist + 1) * kTile <= kBuf ? pf + kTile : pf;
      for (int s = 0; s < static_cast<int>(kLines / 2); ++s) {
        if (pf < pf_end) {
          if (hint == 0) Prefetch2<_MM_HINT_T0>(pf);
          if (hint == 1) Prefetch2<_MM_HINT_T2>(pf);
          if (hint == 2) Prefetch2<_MM_HINT_NTA>(pf);
          pf += 128;
        }
        sink = _mm512_xor_si512(sink, _mm512_load_si512(cur + off[2 * s]));
        sink = _mm512_xor_si512(sink, _mm512_load_si512(cur + off[2 * s + 1]));
        for (int k = 0; k < fmas; k += 8) {
          a0 = _mm512_fmadd_ps(a0, m, add);
          a1 = _mm512_fmadd_ps(a1, m, add);
          a2 = _mm512_fmadd_ps(a2, m, add);
          a3 = _mm512_fmadd_ps(a3, m, add);
          a4 = _mm512_fmadd_ps(a4, m, add);
          a5 = _mm512_fmadd_ps(a5, m, add);
          a6 = _mm512_fmadd_ps(a6, m, add);
          a7 = _mm512_fmadd_ps(a7, m, add);
        }
      }
    }
    const double dt = now() - t0;
    if (dt < best) best = dt;
    out = _mm512_add_ps(out, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))));
  }
  float f[16];
  int o[16];
  _mm512_storeu_ps(f, out);
  _mm512_storeu_si512(o, sink);
  std::printf("order %d fmas %d dist %d hint %d: %.1f GB/s (%.2f ms) [%g %d]\n", order, fmas, dist, hint,
              kBuf / best / 1e9, best * 1e3, f[0], o[0]);
  std::free(buf);
}
