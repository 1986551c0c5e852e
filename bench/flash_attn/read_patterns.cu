// Read-bandwidth probe for the paged decode's access pattern (not part of the
// build; compiled by hand on the GPU machine):
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a bench/flash_attn/read_patterns.cu -o /tmp/rp &&
//   /tmp/rp
// A paged K/V cache [2][num_blocks][16][8 KV heads][128] bf16 (B64 x L16k of
// the decode sweep, pages in a random order) is read whole, once per pattern,
// by kernels that differ only in which bytes a CTA reads:
//   head   - one CTA per (request, KV head): the 256-byte slice of its head in
//            every row (what decode_mma_kernel reads; 2 KB between rows);
//   heads4 - one CTA per (request, 4 KV heads): 1 KB of every row;
//   page   - one CTA per (request, 1/8 of its pages): whole 32 KB pages;
//   pageseq, headseq - page and head with the pages in address order;
//   cpasync, cpasync128, zfill128 - head through decode_mma_kernel's cp.async
//            ring (no hint, L2::128B hint, hint and the zero-filling form).
// The first five share the CTA count, threads and loads in flight per
// thread, so their difference is what the DRAM sees. Prints TB/s (bytes
// read over time). Results: decode step 8 of docs/notes/flash_attn.md.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

namespace {

constexpr int kBlock = 16, kHeads = 8, kD = 128, kRow = kHeads * kD * 2, kPage = kBlock * kRow;
constexpr int kThreads = 256;

/// Pattern with kHeadsPerCta consecutive KV heads per CTA (8 = whole pages):
/// the 8 CTAs of a request split its pages (and, below 8 heads, its head
/// groups) between them. Every thread keeps 16 loads of 16 bytes in flight.
template <int kHeadsPerCta>
__global__ void __launch_bounds__(kThreads) read_kernel(const unsigned char* k, const unsigned char* v,
                                                        const int* table, int pages_per_req, unsigned* sink) {
  constexpr int kGroups = kHeads / kHeadsPerCta;
  constexpr int kSlice = kHeadsPerCta * kD * 2;         // contiguous bytes per row
  constexpr int kUnitsPerPage = kBlock * kSlice / 16;   // 16-byte loads per page (K or V)
  constexpr int kPerThread = kUnitsPerPage / kThreads;  // per page, K or V (>= 1)
  constexpr int kPagesPerIter = 8 / kPerThread > 0 ? 8 / kPerThread : 1;
  static_assert(kUnitsPerPage % kThreads == 0 && kPerThread * kPagesPerIter == 8, "shape");
  const int req = blockIdx.y;
  const int group = blockIdx.x % kGroups;
  const int first = blockIdx.x / kGroups,
            stride = 8 / kGroups;  // this CTA's pages: first, first + stride, ...
  uint4 acc = make_uint4(0, 0, 0, 0);
  for (int pg = first; pg < pages_per_req; pg += stride * kPagesPerIter) {
    uint4 x[16];
#pragma unroll
    for (int q = 0; q < kPagesPerIter; ++q) {
      const int page_idx = min(pg + q * stride, pages_per_req - 1);
      const long long page = static_cast<long long>(table[req * pages_per_req + page_idx]) * kPage;
#pragma unroll
      for (int u = 0; u < kPerThread; ++u) {
        const int unit = threadIdx.x + u * kThreads;  // 16-byte unit of the (row, slice) span
        const int row = unit * 16 / kSlice, col = unit * 16 % kSlice;
        const long long off = page + row * kRow + group * kSlice + col;
        x[2 * (q * kPerThread + u)] = __ldg(reinterpret_cast<const uint4*>(k + off));
        x[2 * (q * kPerThread + u) + 1] = __ldg(reinterpret_cast<const uint4*>(v + off));
      }
    }
#pragma unroll
    for (auto& e : x) acc.x ^= e.x, acc.y ^= e.y, acc.z ^= e.z, acc.w ^= e.w;
  }
  if ((acc.x ^ acc.y ^ acc.z ^ acc.w) == 0x12345678u) atomicAdd(sink, 1u);
}

/// The head pattern as decode_mma_kernel issues it: 128 threads, 64-key
/// tiles (4 pages) of K and V copied with 16-byte cp.async.cg into a 3-stage
/// shared-memory ring (2 CTAs per SM), no compute. kHint: L2::128B hint;
/// kZfill: the zero-filling form (src-size operand, here always 16).
template <bool kHint, bool kZfill = false>
__global__ void __launch_bounds__(128) copy_kernel(const unsigned char* k, const unsigned char* v,
                                                   const int* table, int pages_per_req, unsigned* sink) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int kTileBytes = 64 * kD * 2, kStage = 2 * kTileBytes;
  const int req = blockIdx.y, head = blockIdx.x;
  const int tiles = pages_per_req / 4;
  auto issue = [&](int tile) {
    unsigned char* dst = smem + (tile % 3) * kStage;
#pragma unroll
    for (int it = 0; it < 8; ++it) {
      const int i = threadIdx.x + it * 128;  // 16-byte unit of the tile: key i / 16, column i % 16
      const int key = i / 16, u = i % 16;
      const long long off = static_cast<long long>(table[req * pages_per_req + tile * 4 + key / 16]) * kPage +
                            (key % 16) * kRow + head * kD * 2 + u * 16;
      const unsigned sk = static_cast<unsigned>(__cvta_generic_to_shared(dst + i * 16));
      const unsigned sv = static_cast<unsigned>(__cvta_generic_to_shared(dst + kTileBytes + i * 16));
      if constexpr (kZfill) {
        const int size = off >= 0 ? 16 : 0;
        asm volatile("cp.async.cg.shared.global.L2::128B [%0], [%1], 16, %2;\n" ::"r"(sk), "l"(k + off),
                     "r"(size));
        asm volatile("cp.async.cg.shared.global.L2::128B [%0], [%1], 16, %2;\n" ::"r"(sv), "l"(v + off),
                     "r"(size));
      } else if constexpr (kHint) {
        asm volatile("cp.async.cg.shared.global.L2::128B [%0], [%1], 16;\n" ::"r"(sk), "l"(k + off));
        asm volatile("cp.async.cg.shared.global.L2::128B [%0], [%1], 16;\n" ::"r"(sv), "l"(v + off));
      } else {
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(sk), "l"(k + off));
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(sv), "l"(v + off));
      }
    }
    asm volatile("cp.async.commit_group;\n" ::);
  };
  issue(0);
  issue(1);
  unsigned acc = 0;
  for (int t = 0; t < tiles; ++t) {
    asm volatile("cp.async.wait_group 1;\n" ::);
    __syncthreads();
    if (t + 2 < tiles)
      issue(t + 2);
    else
      asm volatile("cp.async.commit_group;\n" ::);
    acc ^= reinterpret_cast<const unsigned*>(smem + (t % 3) * kStage)[threadIdx.x];
  }
  if (acc == 0x12345678u) atomicAdd(sink, 1u);
}

template <class F>
float time_ms(F launch) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  launch();
  std::vector<float> t;
  for (int i = 0; i < 7; ++i) {
    cudaEventRecord(a);
    launch();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main() {
  const int reqs = 64, pages_per_req = 16384 / kBlock, num_blocks = reqs * pages_per_req;
  const size_t bytes = static_cast<size_t>(num_blocks) * kPage;
  unsigned char *k, *v;
  int* table;
  unsigned* sink;
  cudaMalloc(&k, bytes);
  cudaMalloc(&v, bytes);
  cudaMemset(k, 1, bytes);
  cudaMemset(v, 2, bytes);
  std::vector<int> perm(num_blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(7));
  cudaMalloc(&table, num_blocks * sizeof(int));
  cudaMemcpy(table, perm.data(), num_blocks * sizeof(int), cudaMemcpyHostToDevice);
  int* identity;  // pages in address order: the contiguous ceiling
  std::iota(perm.begin(), perm.end(), 0);
  cudaMalloc(&identity, num_blocks * sizeof(int));
  cudaMemcpy(identity, perm.data(), num_blocks * sizeof(int), cudaMemcpyHostToDevice);
  cudaMalloc(&sink, sizeof(unsigned));
  const double total = 2.0 * bytes;
  const dim3 grid(8, reqs);
  auto report = [&](const char* name, float ms) {
    std::printf("%-7s %8.3f ms  %6.2f TB/s\n", name, ms, total / ms / 1e9);
  };
  report("head", time_ms([&] { read_kernel<1><<<grid, kThreads>>>(k, v, table, pages_per_req, sink); }));
  report("heads4", time_ms([&] { read_kernel<4><<<grid, kThreads>>>(k, v, table, pages_per_req, sink); }));
  report("page", time_ms([&] { read_kernel<8><<<grid, kThreads>>>(k, v, table, pages_per_req, sink); }));
  report("pageseq",
         time_ms([&] { read_kernel<8><<<grid, kThreads>>>(k, v, identity, pages_per_req, sink); }));
  report("headseq",
         time_ms([&] { read_kernel<1><<<grid, kThreads>>>(k, v, identity, pages_per_req, sink); }));
  constexpr int kCopySmem = 3 * 2 * 64 * kD * 2;
  cudaFuncSetAttribute(copy_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, kCopySmem);
  cudaFuncSetAttribute(copy_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, kCopySmem);
  report("cpasync",
         time_ms([&] { copy_kernel<false><<<grid, 128, kCopySmem>>>(k, v, table, pages_per_req, sink); }));
  report("cpasync128",
         time_ms([&] { copy_kernel<true><<<grid, 128, kCopySmem>>>(k, v, table, pages_per_req, sink); }));
  cudaFuncSetAttribute(copy_kernel<true, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, kCopySmem);
  report("zfill128", time_ms([&] {
           copy_kernel<true, true><<<grid, 128, kCopySmem>>>(k, v, table, pages_per_req, sink);
         }));
  std::printf("cuda: %s\n", cudaGetErrorString(cudaGetLastError()));
  return 0;
}
