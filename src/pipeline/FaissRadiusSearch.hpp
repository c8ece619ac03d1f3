#pragma once
// Internal: the FAISS half of GraphBuilder. CMake compiles FaissRadiusSearch.cpp when
// FAISS is found, FaissRadiusSearchNone.cpp otherwise, so callers need no #ifdef.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace trkaas::detail {

/// Whether FaissRadiusSearch.cpp (and so FAISS) is built in.
bool faissBuiltIn();

/// Candidate neighbours from a faiss::IndexFlatL2 range search of the points against
/// themselves: for query i, indices[offsets[i] .. offsets[i+1]) are the points whose FAISS
/// squared distance to i is below `radius2` (i itself included, in no particular order).
/// FAISS distances are approximate; the caller widens `radius2` and checks exactly.
void faissRangeCandidates(const float* points, std::int64_t n, std::int64_t dim, float radius2,
                          std::vector<std::size_t>& offsets, std::vector<std::int64_t>& indices);

}  // namespace trkaas::detail
