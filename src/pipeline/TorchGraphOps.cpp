#include "TorchGraphOps.hpp"

#include <algorithm>
#include <sstream>
#include <string>

#include "trkaas/core/Error.hpp"

namespace trkaas::detail {

std::pair<torch::Tensor, torch::Tensor> keepAbove(const torch::Tensor& edges,
                                                  const torch::Tensor& logits, float threshold) {
  const torch::Tensor pass = torch::nonzero(logits.gt(threshold)).view({-1});
  return {edges.index_select(1, pass), logits.index_select(0, pass).contiguous()};
}

torch::Tensor orientOutwardsTensor(const torch::Tensor& xyz, const torch::Tensor& edges) {
  const torch::Tensor src = edges.select(0, 0), dst = edges.select(0, 1);
  const torch::Tensor p = xyz.to(torch::kFloat64);
  const torch::Tensor px = p.select(1, 0), py = p.select(1, 1), pz = p.select(1, 2);
  const torch::Tensor dist2 = px * px + py * py + pz * pz;
  const torch::Tensor a = dist2.index_select(0, src), b = dist2.index_select(0, dst);
  const torch::Tensor swap = b.lt(a).logical_or(b.eq(a).logical_and(dst.lt(src)));
  return torch::stack({torch::where(swap, dst, src), torch::where(swap, src, dst)});
}

std::vector<std::int64_t> edgesPerEvent(const torch::Tensor& edges,
                                        const std::vector<std::int64_t>& starts,
                                        std::int64_t numHits) {
  std::vector<std::int64_t> counts(starts.size(), 0);
  const std::int64_t total = edges.size(1);
  if (starts.size() <= 1 || total == 0) {
    if (!counts.empty()) counts.front() = total;
    return counts;
  }
  std::vector<std::int64_t> bounds = starts;
  bounds.push_back(numHits);
  const torch::Tensor b =
      torch::searchsorted(edges.select(0, 0).contiguous(), torch::tensor(bounds).to(edges.device()))
          .cpu();
  const std::int64_t* v = b.data_ptr<std::int64_t>();
  for (std::size_t k = 0; k < starts.size(); ++k) counts[k] = v[k + 1] - v[k];
  return counts;
}

std::vector<std::vector<std::int64_t>> splitUnionLabels(const std::int64_t* labels,
                                                        const std::vector<std::int64_t>& first,
                                                        const std::vector<std::int64_t>& count) {
  std::vector<std::vector<std::int64_t>> out;
  std::int64_t before = 0;  // tracks of the earlier events
  for (std::size_t k = 0; k < first.size(); ++k) {
    std::vector<std::int64_t> own(labels + first[k], labels + first[k] + count[k]);
    std::int64_t last = -1;
    for (std::int64_t& l : own) {
      if (l >= 0) {
        l -= before;
        last = std::max(last, l);
      }
    }
    before += last + 1;
    out.push_back(std::move(own));
  }
  return out;
}

}  // namespace trkaas::detail
