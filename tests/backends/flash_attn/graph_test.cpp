// forward() allocates nothing and never synchronises: it can be captured in a
// CUDA graph on a caller's stream, and the replay computes the same result,
// with a 16-bit cache and with an fp8 one (their decodes take other kernels).
#include "device_batch.hpp"

namespace attnreg::flash_attn::test {
namespace {

void capture_and_replay(bool fp8) {
  BatchSpec s;
  s.fp8 = fp8;
  s.requests = {{1, 2000}, {1, 33}, {3, 90}, {100, 180}};
  const HostBatch b = make_batch(s);
  DeviceBatch d(b);
  auto impl = make_impl_for(b);
  cudaStream_t stream;
  FA_CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  d.metadata.stream = stream;
  cudaGraph_t graph;
  FA_CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  impl->forward(d.tq, d.tk, d.tv, d.tcache, d.metadata, d.tout);
  FA_CUDA_OK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec;
  FA_CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  // Nothing ran during capture: the output is still poisoned.
  std::vector<std::uint16_t> out(b.q.size());
  FA_CUDA_OK(cudaStreamSynchronize(stream));
  d.out.download(out.data());
  EXPECT_EQ(out[0], 0xFFFF) << "capture must not execute the kernels";
  FA_CUDA_OK(cudaGraphLaunch(exec, stream));
  FA_CUDA_OK(cudaStreamSynchronize(stream));
  expect_matches_reference(b, d);
  // A second replay over re-poisoned output gives the same answer.
  d.poison_output();
  FA_CUDA_OK(cudaGraphLaunch(exec, stream));
  FA_CUDA_OK(cudaStreamSynchronize(stream));
  expect_matches_reference(b, d);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

TEST(FlashAttnGraph, CapturedForwardReplaysCorrectly) {
  FA_REQUIRE_DEVICE();
  capture_and_replay(false);
}

TEST(FlashAttnGraph, CapturedForwardReplaysCorrectlyWithFp8Cache) {
  FA_REQUIRE_DEVICE();
  capture_and_replay(true);
}

}  // namespace
}  // namespace attnreg::flash_attn::test
