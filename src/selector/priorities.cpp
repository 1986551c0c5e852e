// The per-platform priority lists: the one place that says which backends a
// platform tries, in which order.
//
// CUDA follows vLLM's vllm/platforms/cuda.py `_get_backend_priorities`
// (vllm-project/vllm at commit 002db4951e0c4b326a559eb44b05698afd3e534a):
//   MLA,     capability 10.x:  FLASHINFER_MLA, CUTLASS_MLA, FLASH_ATTN_MLA, FLASHMLA,
//                              TRITON_MLA, FLASHMLA_SPARSE
//   MLA,     otherwise:        FLASH_ATTN_MLA, FLASHMLA, FLASHINFER_MLA, TRITON_MLA,
//                              FLASHMLA_SPARSE
//   non-MLA, capability 10.x:  FLASHINFER, FLASH_ATTN, TRITON_ATTN, FLEX_ATTENTION
//   non-MLA, otherwise:        FLASH_ATTN, FLASHINFER, TRITON_ATTN, FLEX_ATTENTION
// CPU follows vllm/platforms/cpu.py, which only ever returns CPU_ATTN.
// Attention-free models (vLLM picks NO_ATTENTION for them before asking the
// platform) get NO_ATTENTION in front of the platform's list, so the other
// candidates still report why they do not fit.
#include <attnreg/selector.hpp>

namespace attnreg {
namespace {

using E = AttentionBackendEnum;

std::vector<E> cuda_priorities(bool use_mla, DeviceCapability cc) {
  const bool blackwell = cc.major == 10;
  if (use_mla) {
    if (blackwell)
      return {E::FLASHINFER_MLA, E::CUTLASS_MLA, E::FLASH_ATTN_MLA,
              E::FLASHMLA,       E::TRITON_MLA,  E::FLASHMLA_SPARSE};
    return {E::FLASH_ATTN_MLA, E::FLASHMLA, E::FLASHINFER_MLA, E::TRITON_MLA, E::FLASHMLA_SPARSE};
  }
  if (blackwell) return {E::FLASHINFER, E::FLASH_ATTN, E::TRITON_ATTN, E::FLEX_ATTENTION};
  return {E::FLASH_ATTN, E::FLASHINFER, E::TRITON_ATTN, E::FLEX_ATTENTION};
}

}  // namespace

std::vector<AttentionBackendEnum> backend_priorities(const Platform& platform,
                                                     const AttentionConfig& config) {
  std::vector<E> list;
  if (!config.has_attention) list.push_back(E::NO_ATTENTION);
  std::vector<E> platform_list;
  switch (platform.device) {
    case DeviceType::CPU:
      platform_list = {E::CPU_ATTN};
      break;
    case DeviceType::CUDA:
      // A CUDA platform without a known capability is judged as the most
      // common case (not Blackwell), as vLLM's default branch.
      platform_list = cuda_priorities(config.use_mla, platform.capability.value_or(DeviceCapability{}));
      break;
  }
  list.insert(list.end(), platform_list.begin(), platform_list.end());
  return list;
}

}  // namespace attnreg
