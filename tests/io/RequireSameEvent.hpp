#pragma once
// Catch2 check that two events are identical in every column (floats bit for bit).
#include "EventCompare.hpp"
#include "TrkaasCatch.hpp"

namespace trkaas::test {

inline void requireSameEvent(const Event& a, const Event& b) {
  REQUIRE(eventDifference(a, b) == "");
}

}  // namespace trkaas::test
