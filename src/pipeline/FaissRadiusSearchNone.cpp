// Stand-in for FaissRadiusSearch.cpp in builds without FAISS.
#include "FaissRadiusSearch.hpp"
#include "trkaas/core/Error.hpp"

namespace trkaas::detail {

bool faissBuiltIn() { return false; }

void faissRangeCandidates(const float*, std::int64_t, std::int64_t, float,
                          std::vector<std::size_t>&, std::vector<std::int64_t>&) {
  throw Error(
      "GraphBuilder: the FAISS backend is not built into this trkaas (FAISS was not "
      "found at configure time); use the grid backend");
}

}  // namespace trkaas::detail
