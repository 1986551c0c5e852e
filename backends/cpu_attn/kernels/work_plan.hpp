// Work planning of CPU_ATTN's forward: how a batch is cut into work items
// (per request: decode items over all KV heads, or items of one KV head and
// a query block, split over their keys where the batch is too small to keep
// every thread busy), in which order the threads take them, and the scratch
// each thread needs. Plain C++: the per-target kernels run the items.
#pragma once

#include "kernels/attention_kernel.hpp"

namespace attnreg::cpu_attn {

/// Fills workspace.items, merge_groups and order for `threads` threads and
/// grows the partial buffer. Requests with one query token get decode items
/// (all KV heads of a key range, kv_head = -1), split until there are about
/// kDecodeItemsPerThread items per thread; the others get one item per (KV
/// head, query block), split when the batch gives fewer than 4 items per
/// thread.
void plan_work(const KernelArgs& args, Workspace& workspace, int threads);

/// Grows each of `threads` threads' scratch to the sizes of this call (it
/// only grows, so steady-state calls do not allocate).
void size_scratch(const KernelArgs& args, Workspace& workspace, int threads);

}  // namespace attnreg::cpu_attn
