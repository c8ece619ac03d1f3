// The FAISS candidate search of GraphBuilder (built only when FAISS is found).
#include "FaissRadiusSearch.hpp"

#include <faiss/IndexFlat.h>
#include <faiss/impl/AuxIndexStructures.h>

#include <algorithm>

namespace trkaas::detail {

bool faissBuiltIn() { return true; }

void faissRangeCandidates(const float* points, std::int64_t n, std::int64_t dim, float radius2,
                          std::vector<std::size_t>& offsets, std::vector<std::int64_t>& indices) {
  offsets.assign(static_cast<std::size_t>(n) + 1, 0);
  indices.clear();
  if (n == 0) {
    return;
  }
  faiss::IndexFlatL2 index(static_cast<faiss::Index::idx_t>(dim));
  index.add(static_cast<faiss::Index::idx_t>(n), points);
  faiss::RangeSearchResult result(static_cast<faiss::Index::idx_t>(n));
  index.range_search(static_cast<faiss::Index::idx_t>(n), points, radius2, &result);
  std::copy(result.lims, result.lims + n + 1, offsets.begin());
  indices.assign(result.labels, result.labels + result.lims[n]);
}

}  // namespace trkaas::detail
