// Example host program: makes the acme.attention plugin the CUSTOM backend,
// resolves it through the registry, and runs one attention step with it,
// checked against a float64 computation done here.
//
//   acme_host [plugin dir]   (default: where this build put the plugin)
#include <attnreg/attnreg.hpp>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>
#include <vector>

namespace {

/// A float32 or int CPU tensor owning its storage.
template <class T>
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<T> data;
  DLTensor dl{};
  explicit Tensor(std::vector<int64_t> s, T fill = T{}) : shape(std::move(s)) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    data.assign(n, fill);
    const bool is_float = std::is_floating_point_v<T>;
    dl =
        DLTensor{data.data(),
                 {kDLCPU, 0},
                 static_cast<int32_t>(shape.size()),
                 {static_cast<uint8_t>(is_float ? kDLFloat : kDLInt), static_cast<uint8_t>(8 * sizeof(T)), 1},
                 shape.data(),
                 nullptr,
                 0};
  }
};

}  // namespace

int main(int argc, char** argv) {
  const char* plugin_dir = argc > 1 ? argv[1] : ACME_PLUGIN_DIR;
  ::setenv("ATTNREG_PLUGIN_PATH", plugin_dir, 1);  // read when the module is first looked up

  using attnreg::AttentionBackendEnum;
  attnreg::register_backend(AttentionBackendEnum::CUSTOM, "acme.attention.AcmeBackend");
  const attnreg::AttentionBackend& backend = AttentionBackendEnum::CUSTOM.get_class();  // loads the plugin
  std::cout << "CUSTOM -> " << AttentionBackendEnum::CUSTOM.get_path() << " (" << backend.get_name() << ")\n";

  attnreg::AttentionConfig config;
  config.head_size = 16;
  config.dtype = attnreg::ScalarType::Float32;
  config.num_heads = 4;
  config.num_kv_heads = 2;
  config.block_size = 4;
  for (const auto& reason : backend.validate_configuration(config))
    std::cout << "  unsupported: " << reason << "\n";

  // One step: request 0 prefills 5 tokens, request 1 decodes 1 token after 6 cached.
  const int H = 4, Hkv = 2, D = 16, B = 4, blocks = 8;
  attnreg::AttentionLayerParams params;
  params.num_heads = H;
  params.num_kv_heads = Hkv;
  params.head_size = D;
  auto impl = backend.make_impl(params);

  const std::vector<int32_t> qsl_v{0, 5, 6}, seq_v{5, 7};
  const int T = 6;
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Tensor<float> q({T, H, D}), k({T, Hkv, D}), v({T, Hkv, D}), cache({2, blocks, B, Hkv, D});
  Tensor<float> out({T, H, D}, NAN);  // poisoned: an unwritten element fails the check
  for (auto* t : {&q, &k, &v, &cache})
    for (auto& x : t->data) x = u(rng);
  Tensor<int32_t> qsl({3}), seq({2}), table({2, 2});
  qsl.data = qsl_v;
  seq.data = seq_v;
  table.data = {0, 1, 2, 3};  // request 0: blocks 0,1; request 1: blocks 2,3
  Tensor<int64_t> slots({T});
  slots.data = {0, 1, 2, 3, 4, 2 * B + 6};  // request 1's new token is its position 6
  qsl.dl.data = qsl.data.data();
  seq.dl.data = seq.data.data();
  table.dl.data = table.data.data();
  slots.dl.data = slots.data.data();
  attnreg::AttentionMetadata md;
  md.query_start_loc = &qsl.dl;
  md.seq_lens = &seq.dl;
  md.block_table = &table.dl;
  md.slot_mapping = &slots.dl;
  md.max_query_len = 5;
  md.max_seq_len = 7;
  impl->forward(q.dl, k.dl, v.dl, cache.dl, md, out.dl);

  // float64 reference, reading keys/values back from the cache the step wrote.
  double max_err = 0.0;
  const auto kv = [&](int which, int r, int j, int h, int d) {
    const int block = table.data[r * 2 + j / B];
    return double(cache.data[(((which * blocks + block) * B + j % B) * Hkv + h) * D + d]);
  };
  for (int r = 0; r < 2; ++r)
    for (int t = qsl_v[r]; t < qsl_v[r + 1]; ++t) {
      const int pos = seq_v[r] - (qsl_v[r + 1] - qsl_v[r]) + (t - qsl_v[r]);
      for (int h = 0; h < H; ++h) {
        std::vector<double> p(pos + 1);
        double m = -INFINITY, sum = 0;
        for (int j = 0; j <= pos; ++j) {
          double s = 0;
          for (int d = 0; d < D; ++d)
            s += double(q.data[(t * H + h) * D + d]) * kv(0, r, j, h / (H / Hkv), d);
          m = std::max(m, p[j] = s / std::sqrt(double(D)));
        }
        for (auto& x : p) sum += (x = std::exp(x - m));
        for (int d = 0; d < D; ++d) {
          double o = 0;
          for (int j = 0; j <= pos; ++j) o += p[j] / sum * kv(1, r, j, h / (H / Hkv), d);
          const double err = std::abs(o - out.data[(t * H + h) * D + d]);
          max_err = std::isnan(err) ? INFINITY : std::max(max_err, err);
        }
      }
    }
  std::cout << "max |acme - float64 reference| = " << max_err << "\n";
  return max_err < 1e-5 ? EXIT_SUCCESS : EXIT_FAILURE;
}
