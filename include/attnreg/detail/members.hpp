// attnreg/detail/members.hpp: the member tables of both backend enums.
//
// One X-macro per enum keeps the declaration order, the constant names and
// the default class paths in a single place; the enum classes, the name
// lookup and the CLI are all generated from these lists.
#pragma once

// X(NAME, "default class path"); "" means the member has no default class.
#define ATTNREG_ATTENTION_BACKEND_MEMBERS(X)                                                              \
  X(FLASH_ATTN, "attnreg.backends.flash_attn.FlashAttentionBackend")                                      \
  X(FLASH_ATTN_DIFFKV, "attnreg.backends.flash_attn_diffkv.FlashAttentionDiffKVBackend")                  \
  X(TRITON_ATTN, "attnreg.backends.triton_attn.TritonAttentionBackend")                                   \
  X(XFORMERS, "attnreg.backends.xformers.XFormersAttentionBackend")                                       \
  X(ROCM_ATTN, "attnreg.backends.rocm_attn.RocmAttentionBackend")                                         \
  X(ROCM_AITER_MLA, "attnreg.backends.mla.rocm_aiter_mla.AiterMLABackend")                                \
  X(ROCM_AITER_TRITON_MLA, "attnreg.backends.mla.aiter_triton_mla.AiterTritonMLABackend")                 \
  X(ROCM_AITER_FA, "attnreg.backends.rocm_aiter_fa.AiterFlashAttentionBackend")                           \
  X(ROCM_AITER_MLA_SPARSE, "attnreg.backends.mla.rocm_aiter_mla_sparse.ROCMAiterMLASparseBackend")        \
  X(XPU_MLA_SPARSE, "attnreg.backends.mla.xpu_mla_sparse.XPUMLASparseBackend")                            \
  X(TORCH_SDPA, "")                                                                                       \
  X(FLASHINFER, "attnreg.backends.flashinfer.FlashInferBackend")                                          \
  X(FLASHINFER_MLA, "attnreg.backends.mla.flashinfer_mla.FlashInferMLABackend")                           \
  X(FLASHINFER_MLA_SPARSE, "attnreg.backends.mla.flashinfer_mla_sparse.FlashInferMLASparseBackend")       \
  X(TRITON_MLA, "attnreg.backends.mla.triton_mla.TritonMLABackend")                                       \
  X(TRITON_MLA_SPARSE, "attnreg.backends.mla.triton_mla_sparse.TritonMLASparseBackend")                   \
  X(CUTLASS_MLA, "attnreg.backends.mla.cutlass_mla.CutlassMLABackend")                                    \
  X(FLASHMLA, "attnreg.backends.mla.flashmla.FlashMLABackend")                                            \
  X(FLASHMLA_SPARSE, "attnreg.backends.mla.flashmla_sparse.FlashMLASparseBackend")                        \
  X(FLASH_ATTN_MLA, "attnreg.backends.mla.flashattn_mla.FlashAttnMLABackend")                             \
  X(PALLAS, "attnreg.backends.pallas.PallasAttentionBackend")                                             \
  X(IPEX, "attnreg.backends.ipex.IpexAttentionBackend")                                                   \
  X(NO_ATTENTION, "attnreg.backends.no_attention.NoAttentionBackend")                                     \
  X(FLEX_ATTENTION, "attnreg.backends.flex_attention.FlexAttentionBackend")                               \
  X(TREE_ATTN, "attnreg.backends.tree_attn.TreeAttentionBackend")                                         \
  X(ROCM_AITER_UNIFIED_ATTN, "attnreg.backends.rocm_aiter_unified_attn.RocmAiterUnifiedAttentionBackend") \
  X(CPU_ATTN, "attnreg.backends.cpu_attn.CPUAttentionBackend")                                            \
  X(TURBOQUANT, "attnreg.backends.turboquant_attn.TurboQuantAttentionBackend")                            \
  X(CUSTOM, "")

#define ATTNREG_MAMBA_BACKEND_MEMBERS(X)                                      \
  X(MAMBA1, "attnreg.backends.mamba1_attn.Mamba1AttentionBackend")            \
  X(MAMBA2, "attnreg.backends.mamba2_attn.Mamba2AttentionBackend")            \
  X(SHORT_CONV, "attnreg.backends.short_conv_attn.ShortConvAttentionBackend") \
  X(LINEAR, "attnreg.backends.linear_attn.LinearAttentionBackend")            \
  X(GDN_ATTN, "attnreg.backends.gdn_attn.GDNAttentionBackend")                \
  X(CUSTOM, "")

// The older generation's `_Backend` enum (seed 002) in vLLM's declaration
// order: X(NAME, "BACKEND_MAP path"), where "" marks the two members (IPEX,
// NO_ATTENTION) that have no BACKEND_MAP entry.
#define ATTNREG_LEGACY_BACKEND_MEMBERS(X)                                          \
  X(FLASH_ATTN, "attnreg.backends.flash_attn.FlashAttentionBackend")               \
  X(TRITON_ATTN, "attnreg.backends.triton_attn.TritonAttentionBackend")            \
  X(XFORMERS, "attnreg.backends.xformers.XFormersAttentionBackend")                \
  X(ROCM_ATTN, "attnreg.backends.rocm_attn.RocmAttentionBackend")                  \
  X(ROCM_AITER_MLA, "attnreg.backends.mla.rocm_aiter_mla.AiterMLABackend")         \
  X(ROCM_AITER_FA, "attnreg.backends.rocm_aiter_fa.AiterFlashAttentionBackend")    \
  X(TORCH_SDPA, "attnreg.backends.cpu_attn.TorchSDPABackend")                      \
  X(FLASHINFER, "attnreg.backends.flashinfer.FlashInferBackend")                   \
  X(FLASHINFER_MLA, "attnreg.backends.mla.flashinfer_mla.FlashInferMLABackend")    \
  X(TRITON_MLA, "attnreg.backends.mla.triton_mla.TritonMLABackend")                \
  X(CUTLASS_MLA, "attnreg.backends.mla.cutlass_mla.CutlassMLABackend")             \
  X(FLASHMLA, "attnreg.backends.mla.flashmla.FlashMLABackend")                     \
  X(FLASHMLA_SPARSE, "attnreg.backends.mla.flashmla_sparse.FlashMLASparseBackend") \
  X(FLASH_ATTN_MLA, "attnreg.backends.mla.flashattn_mla.FlashAttnMLABackend")      \
  X(PALLAS, "attnreg.backends.pallas.PallasAttentionBackend")                      \
  X(IPEX, "")                                                                      \
  X(NO_ATTENTION, "")                                                              \
  X(FLEX_ATTENTION, "attnreg.backends.flex_attention.FlexAttentionBackend")        \
  X(TREE_ATTN, "attnreg.backends.tree_attn.TreeAttentionBackend")                  \
  X(ROCM_AITER_UNIFIED_ATTN, "attnreg.backends.rocm_aiter_unified_attn.RocmAiterUnifiedAttentionBackend")
