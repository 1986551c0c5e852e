// The machine floor and its re-measurable read probe: plausible figures on a
// small buffer, and every invalid option refused with a message naming it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <attnreg/errors.hpp>
#include <attnreg/machine_floor.hpp>
#include <string>
#include <utility>
#include <vector>

namespace attnreg::perf {
namespace {

using ::testing::HasSubstr;

TEST(MachineFloor, MeasuresPositiveFiguresWithTheDispatchedTarget) {
  MachineFloorOptions options;
  options.buffer_bytes = std::size_t{8} << 20;
  options.num_threads = 2;
  options.repetitions = 2;
  options.fma_iterations = 1 << 16;
  const MachineFloor floor = measure_machine_floor(options);
  EXPECT_EQ(floor.num_threads, 2);
  EXPECT_GT(floor.read_bandwidth_gbs, 0.1);
  EXPECT_GT(floor.fma_peak_gflops, 0.1);
  EXPECT_GE(floor.vector_lanes_f32, 1);
  EXPECT_FALSE(floor.simd_target.empty());
  // Slices are rounded down to whole vector chunks per thread, never up.
  EXPECT_LE(floor.buffer_bytes, options.buffer_bytes);
  EXPECT_GT(floor.buffer_bytes, options.buffer_bytes / 2);
  EXPECT_THAT(to_string(floor), HasSubstr(floor.simd_target));
  EXPECT_THAT(to_string(floor), HasSubstr("2 threads"));
}

TEST(ReadBandwidthProbe, MeasuresRepeatedlyOnItsOwnBuffer) {
  MachineFloorOptions options;
  options.buffer_bytes = std::size_t{8} << 20;
  options.num_threads = 2;
  options.repetitions = 2;
  ReadBandwidthProbe probe(options);
  EXPECT_EQ(probe.num_threads(), 2);
  EXPECT_LE(probe.buffer_bytes(), options.buffer_bytes);
  EXPECT_GT(probe.buffer_bytes(), options.buffer_bytes / 2);
  EXPECT_GT(probe.measure_gbs(), 0.1);
  EXPECT_GT(probe.measure_gbs(), 0.1);  // the same buffer, measured again
}

/// measure(options) must throw ValueError whose message contains `message`.
template <class Measure>
void expect_refused(Measure measure, const MachineFloorOptions& options, const std::string& message) {
  try {
    measure(options);
    ADD_FAILURE() << "no exception; expected ValueError: " << message;
  } catch (const ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr(message));
  }
}

/// Invalid values of the options the read measurement uses, with the message
/// each must be refused with.
std::vector<std::pair<MachineFloorOptions, std::string>> invalid_read_options() {
  std::vector<std::pair<MachineFloorOptions, std::string>> cases(3);
  cases[0].first.buffer_bytes = 1000;
  cases[0].second = "machine floor: buffer_bytes is 1000; expected at least 1 MiB (1048576)";
  cases[1].first.num_threads = -1;
  cases[1].second = "machine floor: num_threads is -1; expected 0 (all hardware threads) or more";
  cases[2].first.repetitions = 0;
  cases[2].second = "machine floor: repetitions is 0; expected at least 1";
  return cases;
}

TEST(ReadBandwidthProbe, RefusesTheReadOptionsTheFloorRefuses) {
  for (const auto& [options, message] : invalid_read_options())
    expect_refused([](const MachineFloorOptions& o) { ReadBandwidthProbe probe(o); }, options, message);
}

TEST(MachineFloor, RefusesInvalidOptions) {
  const auto floor = [](const MachineFloorOptions& o) { measure_machine_floor(o); };
  for (const auto& [options, message] : invalid_read_options()) expect_refused(floor, options, message);
  MachineFloorOptions fma;
  fma.fma_iterations = 0;
  expect_refused(floor, fma, "machine floor: fma_iterations is 0; expected at least 1");
}

}  // namespace
}  // namespace attnreg::perf
