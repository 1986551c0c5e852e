// ab_cpu_attn_plugins: an A/B of two builds of the CPU_ATTN plugin inside one
// process, decode forwards alternated call by call (notes: docs/notes/cpu_attn.md,
// attempt 56).
//
//   ab_cpu_attn_plugins BASE.so NEW.so [--shapes 1x1024,4x16384] [--seconds 2] [--sweeps 2]
//                       [--placements 4] [--pause-while FILE] [--dtype bf16] [--kv-cache-dtype auto]
//
// BASE.so and NEW.so are attnreg/backends/cpu_attn.so as built from the two
// trees. Each is copied --placements times to a temporary folder and every
// copy loaded with dlopen(RTLD_LOCAL), so each forward runs its own library's
// kernel; their CPUAttentionBackend objects make the impls.
// One synthetic decode batch per shape (bf16, GQA 32/8, head 128, block 16, as
// bench_cpu_attn; --dtype and --kv-cache-dtype change the dtypes) is shared by
// all impls, so both builds read the same cache.
// Per shape and sweep the two builds' forwards alternate for --seconds (the
// order within a pair swaps every pair), and the ratio new / base of the two
// neighbouring calls is kept: the memory side moves between sweeps but hardly
// between two neighbouring calls. Each build runs --placements impls per
// shape and sweep, one per copy of its library (see measure()), fresh ones
// every sweep.
//
// Per shape and sweep it prints the read-floor probe right before and after
// the shape (as bench_cpu_attn's matched floor), the base's mean time and its
// fraction of that floor, the new build's mean time, the median paired ratio
// with its 95% confidence interval (order statistics, distribution-free), the
// ratio of the means and the share of pairs the new build won. A shape whose
// process CPU time is below 90% of threads x wall time shared a core with
// another process and is flagged "contended"; with --pause-while FILE, each
// shape first waits (polling every 20 s) until FILE does not exist (a lock
// file that another user's builds hold). The summary gives, per shape, each
// sweep's median ratio, their mean and half range over the uncontended
// sweeps. The interval of one sweep does not cover the placement of the
// workspaces; the spread between sweeps does. Two copies of one build read
// 1.00 within the spread that attempt 56 gives.
#include <dlfcn.h>
#include <omp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <attnreg/backend.hpp>
#include <attnreg/machine_floor.hpp>
#include <attnreg/plugin.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <attnreg/version.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_layer.hpp"

namespace {

using namespace attnreg;

/// The CPUAttentionBackend of a plugin file, loaded with dlopen(RTLD_LOCAL);
/// the library is never closed (its code runs until exit). Not through the
/// registry's plugin loader: that publishes a module's classes once, and
/// refuses a second provider of the same class paths, which is what the
/// copies of two builds are.
std::unique_ptr<AttentionBackend> load_backend(const std::string& file) {
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) throw std::runtime_error("dlopen " + file + ": " + dlerror());
  auto abi = reinterpret_cast<PluginAbiVersionFn>(dlsym(handle, "attnreg_plugin_abi_version"));
  auto init = reinterpret_cast<PluginInitFn>(dlsym(handle, "attnreg_plugin_init"));
  if (abi == nullptr || init == nullptr) throw std::runtime_error(file + " is not an attnreg plugin");
  if (abi() != ATTNREG_ABI_VERSION) throw std::runtime_error(file + " was built against another attnreg ABI");
  PluginModule module("attnreg.backends.cpu_attn", file);
  std::array<char, 1024> error{};
  if (init(&module, error.data(), error.size()) != 0)
    throw std::runtime_error(file + ": init failed: " + error.data());
  for (auto& entry : module.entries())
    if (entry.class_name == "CPUAttentionBackend") return std::move(entry.object);
  throw std::runtime_error(file + " has no CPUAttentionBackend");
}

struct Shape {
  int batch = 0, context = 0;
};

std::vector<Shape> parse_shapes(const std::vector<std::string>& items) {
  std::vector<Shape> shapes;
  for (const std::string& item : items) {
    Shape s;
    if (std::sscanf(item.c_str(), "%dx%d", &s.batch, &s.context) != 2 || s.batch < 1 || s.context < 2)
      throw std::runtime_error("bad shape '" + item + "' (BATCHxCONTEXT, e.g. 4x16384)");
    shapes.push_back(s);
  }
  return shapes;
}

/// A shape's batch: B requests of one new token over context - 1 cached ones.
struct Case {
  Shape shape;
  SyntheticBatch batch;
  Case(Shape s, ScalarType dtype, const std::string& kv_cache_dtype)
      : shape(s),
        batch(bench::decode_spec(s.batch, s.context, dtype, kv_cache_dtype)),
        model_bytes(element_size(dtype)),
        cache_bytes(kv_cache_dtype == "fp8_e4m3" ? 1 : model_bytes) {}
  int model_bytes, cache_bytes;
  double bytes() const { return bench::decode_bytes(shape.batch, shape.context, model_bytes, cache_bytes); }
  /// Seconds of one forward of impl on this batch.
  double forward(AttentionImpl& impl) {
    const auto t0 = std::chrono::steady_clock::now();
    impl.forward(batch.query(), batch.key(), batch.value(), batch.kv_cache(), batch.metadata(),
                 batch.output());
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Result {
  double median = 0, lo = 0, hi = 0, of_means = 0, won = 0, base_s = 0, new_s = 0;
  int pairs = 0;
  bool contended = false;
};

/// Where an impl's workspace lands in the heap moved its speed by up to a few
/// percent (the two threads' scratch sharing cache lines, where rows start
/// within a line; notes, attempt 56), and two impls made one after the other
/// land at fixed offsets. So each build gets `placements` impls, made in alternating order
/// with a random-size allocation between them and warmed (workspace grown)
/// right away; the pairs cycle through them.
Result measure(Case& c, const std::vector<std::unique_ptr<AttentionBackend>> (&builds)[2], int placements,
               unsigned seed, double seconds, int threads) {
  std::mt19937 rng(seed);
  std::vector<std::unique_ptr<char[]>> pads;
  std::vector<std::unique_ptr<AttentionImpl>> impls[2];
  for (int k = 0; k < placements; ++k)
    for (int j = 0; j < 2; ++j) {
      const int i = (k + j) % 2;
      pads.push_back(std::make_unique<char[]>(16 * (1 + rng() % 256)));
      impls[i].push_back(builds[i][k]->make_impl(c.batch.params()));
      c.forward(*impls[i].back());
    }
  for (int k = 0; k < placements; ++k) c.forward(*impls[0][k]), c.forward(*impls[1][k]);
  std::vector<double> ratios;
  double sum[2] = {0, 0};
  const double cpu0 = process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  double wall = 0;
  for (int n = 0; wall < seconds || n < 10 * placements; ++n) {
    const int k = (n / 2) % placements;
    const int first = n % 2;
    double t[2];
    t[first] = c.forward(*impls[first][k]);
    t[1 - first] = c.forward(*impls[1 - first][k]);
    ratios.push_back(t[1] / t[0]);
    sum[0] += t[0];
    sum[1] += t[1];
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double cpu = process_cpu_seconds() - cpu0;
  Result r;
  r.pairs = static_cast<int>(ratios.size());
  std::sort(ratios.begin(), ratios.end());
  const int n = r.pairs;
  r.median = n % 2 ? ratios[n / 2] : 0.5 * (ratios[n / 2 - 1] + ratios[n / 2]);
  // 95% interval of the median: ranks n/2 -+ 1.96 sqrt(n)/2 (normal approximation of the binomial).
  const double half = 0.98 * std::sqrt(static_cast<double>(n));
  r.lo = ratios[std::max(0, static_cast<int>(std::floor(n / 2.0 - half)))];
  r.hi = ratios[std::min(n - 1, static_cast<int>(std::ceil(n / 2.0 + half)))];
  r.of_means = sum[1] / sum[0];
  r.won =
      static_cast<double>(std::count_if(ratios.begin(), ratios.end(), [](double x) { return x < 1.0; })) / n;
  r.base_s = sum[0] / n;
  r.new_s = sum[1] / n;
  r.contended = cpu < 0.9 * threads * wall;
  return r;
}

int run(int argc, char** argv) {
  CLI::App app{
      "An A/B of two builds of the CPU_ATTN plugin in one process (usage at the top of ab_plugins.cpp)"};
  std::vector<std::string> files;
  std::vector<std::string> shape_items = {"1x1024",  "1x4096",  "1x16384", "1x32768", "4x1024",  "4x4096",
                                          "4x16384", "4x32768", "16x1024", "16x4096", "32x1024", "32x4096"};
  double seconds = 2.0;
  int sweeps = 2;
  int placements = 4;
  std::string pause_file;
  std::string dtype_name = "bf16", kv_cache_dtype = "auto";
  app.add_option("builds", files, "BASE.so NEW.so: two builds of attnreg/backends/cpu_attn.so")
      ->required()
      ->expected(2)
      ->check(CLI::ExistingFile);
  app.add_option("--shapes", shape_items, "Decode shapes BATCHxCONTEXT, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--seconds", seconds, "Seconds of alternated forwards per shape and sweep")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--sweeps", sweeps, "Sweeps over the shapes")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--placements", placements, "Impls (and library copies) per build")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--pause-while", pause_file, "Wait before each shape while this file exists");
  app.add_option("--dtype", dtype_name, "Model dtype")
      ->check(CLI::IsMember({"bf16", "fp16", "fp32"}))
      ->capture_default_str();
  app.add_option("--kv-cache-dtype", kv_cache_dtype, "KV cache dtype")
      ->check(CLI::IsMember({"auto", "fp8_e4m3"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const ScalarType dtype = *scalar_type_from_string(dtype_name);
  // Copy k of each build for placement k: each copy is a new file, so its code
  // lands in other physical pages (which moves a build by 1-3%; notes,
  // attempt 56). Loaded in alternating order, the files removed once loaded.
  std::vector<std::unique_ptr<AttentionBackend>> builds[2];
  {
    char dir_template[] = "/tmp/ab_cpu_attn_XXXXXX";
    if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
    const std::filesystem::path dir = dir_template;
    for (int k = 0; k < placements; ++k)
      for (int j = 0; j < 2; ++j) {
        const int i = (k + j) % 2;
        const std::filesystem::path copy =
            dir / ("build" + std::to_string(i) + "_" + std::to_string(k) + ".so");
        std::filesystem::copy_file(files[i], copy);
        builds[i].push_back(load_backend(copy.string()));
      }
    std::filesystem::remove_all(dir);
  }
  const std::vector<Shape> shapes = parse_shapes(shape_items);
  const int threads = omp_get_max_threads();
  perf::MachineFloorOptions probe_options;
  probe_options.num_threads = threads;
  perf::ReadBandwidthProbe probe(probe_options);
  std::vector<std::unique_ptr<Case>> cases;
  for (const Shape& s : shapes) cases.push_back(std::make_unique<Case>(s, dtype, kv_cache_dtype));
  std::printf(
      "base %s\nnew  %s\n%d OpenMP threads, %.1f s per shape, %d sweeps, %d placements, %s, cache %s\n",
      files[0].c_str(), files[1].c_str(), threads, seconds, sweeps, placements, dtype_name.c_str(),
      kv_cache_dtype.c_str());
  std::vector<std::vector<Result>> results(shapes.size());
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    double floor_before = probe.measure_gbs();
    for (std::size_t k = 0; k < cases.size(); ++k) {
      Case& c = *cases[k];
      if (!pause_file.empty() && access(pause_file.c_str(), F_OK) == 0) {
        while (access(pause_file.c_str(), F_OK) == 0) std::this_thread::sleep_for(std::chrono::seconds(20));
        floor_before = probe.measure_gbs();
      }
      const Result r =
          measure(c, builds, placements, static_cast<unsigned>(sweep * 1000 + k), seconds, threads);
      const double floor_after = probe.measure_gbs();
      const double matched = c.bytes() / r.base_s / ((floor_before + floor_after) / 2 * 1e9);
      std::printf(
          "sweep %d  B=%-2d L=%-5d  floor %5.1f / %5.1f GB/s  base %8.3f ms (%3.0f%%)  new %8.3f ms  "
          "new/base median %.4f [%.4f, %.4f]  of means %.4f  new faster in %3.0f%% of %d pairs%s\n",
          sweep, c.shape.batch, c.shape.context, floor_before, floor_after, r.base_s * 1e3, matched * 100,
          r.new_s * 1e3, r.median, r.lo, r.hi, r.of_means, r.won * 100, r.pairs,
          r.contended ? "  contended" : "");
      std::fflush(stdout);
      results[k].push_back(r);
      floor_before = floor_after;
    }
  }
  std::printf("\nper shape: median new/base of each sweep (* = contended), their mean and half range\n");
  for (std::size_t k = 0; k < cases.size(); ++k) {
    std::printf("  B=%-2d L=%-5d", shapes[k].batch, shapes[k].context);
    double sum = 0, lo = 1e9, hi = 0;
    int n = 0;
    for (const Result& r : results[k]) {
      std::printf("  %.4f%s", r.median, r.contended ? "*" : "");
      if (r.contended) continue;
      sum += r.median;
      lo = std::min(lo, r.median);
      hi = std::max(hi, r.median);
      ++n;
    }
    if (n > 0) std::printf("   mean %.4f +- %.4f", sum / n, (hi - lo) / 2);
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ab_cpu_attn_plugins: %s\n", e.what());
    return 1;
  }
}
