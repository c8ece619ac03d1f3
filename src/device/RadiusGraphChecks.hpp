#pragma once
/// Input checks and their messages, shared by the host driver and the device launcher of
/// GridRadiusGraph (host code only).

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

#include "trkaas/core/Error.hpp"

namespace trkaas::device::detail {

/// Most points: pair keys lo * n + hi must fit in an int64.
constexpr std::int64_t kMaxPoints = std::int64_t{1} << 31;

/// Throws trkaas::Error for n < 0, n > kMaxPoints, dim < 1, or null points with n > 0.
inline void checkRadiusGraphInput(const char* where, const void* points, std::int64_t n,
                                  std::int64_t dim) {
  std::string problem;
  if (n < 0) {
    problem = "number of points must be >= 0, got " + std::to_string(n);
  } else if (n > kMaxPoints) {
    problem = "at most 2^31 points, got " + std::to_string(n);
  } else if (dim < 1) {
    problem = "dimension must be >= 1, got " + std::to_string(dim);
  } else if (n > 0 && points == nullptr) {
    problem = "points is null for " + std::to_string(n) + " points";
  }
  if (!problem.empty()) {
    throw Error(std::string(where) + ": " + problem);
  }
}

/// Throws the error for non-finite coordinate `flat` (point flat / dim) of value x.
[[noreturn]] inline void throwNonFinite(const char* where, std::int64_t flat, std::int64_t dim,
                                        float x) {
  std::ostringstream msg;
  msg << where << ": point " << flat / dim << ", coordinate " << flat % dim << " is " << x
      << "; embedding coordinates must be finite";
  throw Error(msg.str());
}

}  // namespace trkaas::device::detail
