#pragma once
/// Graph steps of the pipeline written as torch operations on [2, E] edge tensors, so that
/// they run unchanged on CPU and CUDA tensors. Internal (torch types); not installed.

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/script.h>

namespace trkaas::detail {

/// The edges [2, E'] whose logit is above `threshold`, and their logits [E'] (in order).
std::pair<torch::Tensor, torch::Tensor> keepAbove(const torch::Tensor& edges,
                                                  const torch::Tensor& logits, float threshold);

/// orientOutwards on tensors: each edge from the hit nearer the origin (x, y, z of `xyz`
/// [N, 3], squared distance in double) to the farther, ties from the lower index.
torch::Tensor orientOutwardsTensor(const torch::Tensor& xyz, const torch::Tensor& edges);

/// Edges per event of a disjoint union whose edges are sorted by source: event k's hits
/// start at starts[k] (ascending), the union has numHits hits.
std::vector<std::int64_t> edgesPerEvent(const torch::Tensor& edges,
                                        const std::vector<std::int64_t>& starts,
                                        std::int64_t numHits);

/// Track labels of a disjoint union (components numbered 0, 1, ... by their lowest hit
/// over the union, -1 for none) as each event numbers them alone: event k is the segment
/// [first[k], first[k] + count[k]) and its tracks follow the earlier events', so its labels
/// are the union's minus the earlier events' track count.
std::vector<std::vector<std::int64_t>> splitUnionLabels(const std::int64_t* labels,
                                                        const std::vector<std::int64_t>& first,
                                                        const std::vector<std::int64_t>& count);

}  // namespace trkaas::detail
