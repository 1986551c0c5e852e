// Command-line options shared by `select`, `run` and `bench`: the layer
// shape, dtypes, platform and requested backend, and their translation into
// the library's AttentionConfig / Platform / AttentionBackendEnum.
#pragma once

#include <CLI/CLI.hpp>
#include <attnreg/backend.hpp>
#include <attnreg/platform.hpp>
#include <attnreg/registry.hpp>
#include <optional>
#include <string>

namespace attnreg::cli {

/// The values of the shared flags, as parsed.
struct LayerOptions {
  int head_size = 128;
  int num_heads = 32;
  int num_kv_heads = 8;
  std::string dtype = "bf16";
  std::string kv_cache_dtype = "auto";
  int block_size = 16;
  std::optional<int> sliding_window;
  float soft_cap = 0.0f;
  bool sinks = false;
  std::string device;      ///< "cpu", "cuda", or "" for the detected platform
  std::string capability;  ///< "9.0": simulate a CUDA device of this capability
  std::string backend;     ///< a member name, or "" for the selector's choice
};

/// Adds --head-size --num-heads --num-kv-heads --dtype --kv-cache-dtype
/// --block-size --sliding-window --soft-cap --sinks --device --capability
/// --backend to cmd. With shape_required, the first four must be given (as
/// `select` documents them); otherwise they default to a Llama-3-8B layer.
/// device_help says what an absent --device means for this command.
void add_layer_options(CLI::App& cmd, LayerOptions& options, bool shape_required,
                       const std::string& device_help);

/// The model dtype of --dtype (fp32, fp16, bf16 and their long names).
/// Throws ValueError for anything else.
ScalarType model_dtype(const LayerOptions& options);

/// The AttentionConfig the flags describe (device fields are the selector's).
AttentionConfig to_config(const LayerOptions& options);

/// The platform: --device cpu; --device cuda --capability X.Y (simulated);
/// --device cuda alone (the detected CUDA device, else ValueError); nothing
/// (Platform::detect()). --capability without --device cuda is a ValueError.
Platform to_platform(const LayerOptions& options);

/// The member --backend names (from_name: unknown names throw the registry's
/// ValueError with its did-you-mean), or nullopt when not given.
std::optional<AttentionBackendEnum> requested_backend(const LayerOptions& options);

}  // namespace attnreg::cli
