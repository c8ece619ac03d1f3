#include <cmath>
#include <limits>

#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/core/Event.hpp"

using namespace trkaas;

namespace {
Event smallEvent() {
  Event e;
  e.eventId = 7;
  // Ids deliberately neither contiguous nor sorted.
  e.hits.push_back(905, 1.f, 2.f, 3.f, 8, 2, 11);
  e.hits.push_back(17, 4.f, 5.f, 6.f, 8, 4, 12);
  e.hits.push_back(400000000001LL, 7.f, 8.f, 9.f, 13, 2, 3);
  return e;
}
}  // namespace

TEST_CASE("a well-formed event validates", "[core]") {
  REQUIRE_NOTHROW(validateEvent(smallEvent(), "mem"));
}

TEST_CASE("validation names the source, the event and the problem", "[core]") {
  SECTION("empty event") {
    Event e;
    e.eventId = 3;
    REQUIRE_THROWS_WITH(validateEvent(e, "f.h5"), "file 'f.h5', event 3: event has no hits");
  }
  SECTION("duplicate hit id") {
    Event e = smallEvent();
    e.hits.push_back(17, 0.f, 0.f, 0.f, 8, 2, 1);
    REQUIRE_THROWS_WITH(validateEvent(e, "f.h5"),
                        "file 'f.h5', event 7: duplicate hit id 17 (row 3)");
  }
  SECTION("NaN and inf coordinates") {
    Event e = smallEvent();
    e.hits.y[1] = std::numeric_limits<float>::quiet_NaN();
    REQUIRE_THROWS_AS(validateEvent(e, "f.h5"), InputError);
    e.hits.y[1] = 0.f;
    e.hits.z[2] = std::numeric_limits<float>::infinity();
    try {
      validateEvent(e, "f.h5");
      FAIL("no exception");
    } catch (const InputError& err) {
      REQUIRE(err.event() == 7);
      REQUIRE(err.file() == "f.h5");
      REQUIRE_THAT(err.reason(), Catch::Matchers::StartsWith("hit 400000000001 (row 2)"));
    }
  }
  SECTION("truth not aligned with hits") {
    Event e = smallEvent();
    e.truth.push_back(1, 0, 0, 0, 0, 0, 0, 0.1f);
    REQUIRE_THROWS_WITH(validateEvent(e, "f.h5"),
                        "file 'f.h5', event 7: truth has 1 rows but the event has 3 hits");
  }
  SECTION("cell pointing to a missing hit") {
    Event e = smallEvent();
    e.cells.push_back(99, 1, 2, 0.5f);
    REQUIRE_THROWS_AS(validateEvent(e, "f.h5"), InputError);
  }
}

TEST_CASE("particle pT is the transverse momentum", "[core]") {
  Particles p;
  p.push_back(1, 211, 0, 0, 0, 3.f, 4.f, 100.f, 1, 10);
  REQUIRE(particlePt(p, 0) == Approx(5.0));
}
