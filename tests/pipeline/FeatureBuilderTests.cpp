#include <cmath>
#include <vector>

#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/FeatureBuilder.hpp"

using namespace trkaas;

namespace {
Event threeHits() {
  Event e;
  e.eventId = 4;
  e.hits.push_back(10, 3.f, 4.f, 12.f, 8, 2, 1);   // r = 5, rho = 13
  e.hits.push_back(20, 0.f, -2.f, 0.f, 8, 2, 2);   // phi = -pi/2, eta = 0
  e.hits.push_back(30, -1.f, 0.f, -1.f, 8, 4, 1);  // phi = pi, eta = -asinh(1)
  return e;
}
FeatureBuilder builder(std::vector<FeatureBuilder::Feature> features) {
  FeatureBuilder::Config c;
  c.features = std::move(features);
  return FeatureBuilder(c);
}
}  // namespace

TEST_CASE("features are the named quantities divided by their scales", "[pipeline][features]") {
  const auto fb = builder(
      {{"r", 5.f}, {"phi", 1.f}, {"z", 2.f}, {"rho", 13.f}, {"eta", 1.f}, {"x", 1.f}, {"y", -1.f}});
  REQUIRE(fb.numFeatures() == 7);
  const auto f = fb.build(threeHits());
  REQUIRE(f.size() == 21);
  // Hit 0: (3, 4, 12).
  CHECK(f[0] == Approx(1.0));                                             // r / 5
  CHECK(f[1] == Approx(std::atan(4.0 / 3.0)));                            // phi
  CHECK(f[2] == Approx(6.0));                                             // z / 2
  CHECK(f[3] == Approx(1.0));                                             // rho / 13
  CHECK(f[4] == Approx(-std::log(std::tan(std::atan2(5.0, 12.0) / 2))));  // eta
  CHECK(f[5] == Approx(3.0));
  CHECK(f[6] == Approx(-4.0));
  // Hit 1 and 2: phi and eta.
  CHECK(f[7 + 1] == Approx(-M_PI / 2));
  CHECK(f[7 + 4] == Approx(0.0).margin(1e-7));
  CHECK(f[14 + 1] == Approx(M_PI));
  CHECK(f[14 + 4] == Approx(-std::asinh(1.0)));
}

TEST_CASE("cell features count and sum the cells of each hit", "[pipeline][features]") {
  Event e = threeHits();
  e.cells.push_back(30, 1, 1, 0.5f);
  e.cells.push_back(10, 1, 1, 0.25f);
  e.cells.push_back(30, 1, 2, 1.5f);
  const auto f = builder({{"cell_count", 1.f}, {"cell_value", 0.5f}}).build(e);
  REQUIRE(f == std::vector<float>{1.f, 0.5f, 0.f, 0.f, 2.f, 4.f});
  Event noCells = threeHits();
  REQUIRE_THROWS_WITH(builder({{"cell_count", 1.f}}).build(noCells, "f.h5"),
                      "file 'f.h5', event 4: the models need cell features but the event has "
                      "no cells");
}

TEST_CASE("feature config is checked", "[pipeline][features]") {
  REQUIRE_THROWS_WITH(builder({}), HasSubstring("no features"));
  REQUIRE_THROWS_WITH(builder({{"radius", 1.f}}), HasSubstring("unknown feature 'radius'"));
  REQUIRE_THROWS_WITH(builder({{"r", 0.f}}), HasSubstring("non-zero scale"));
  REQUIRE(FeatureBuilder(FeatureBuilder::Config{}).numFeatures() == 3);
}
