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

TEST_CASE("the Exa.TrkX cluster-shape features from cells and the module geometry",
          "[pipeline][features]") {
  // Module (7, 2, 1) of data/trackml/detectors.csv.gz: pitch 0.05 x 0.05625 mm, module_t
  // 0.15 mm (half thickness), rotation rows (0.0784591, -0.996917, 0), (-0.996917,
  // -0.0784591, 0), (0, 0, -1).
  Event e;
  e.eventId = 8;
  e.hits.push_back(5, -65.f, -5.f, -1502.f, 7, 2, 1);
  e.hits.push_back(6, -66.f, -5.f, -1502.f, 7, 2, 1);
  // Hit 5: channels 10..12 along u, 40 along v (three cells); hit 6: one cell.
  e.cells.push_back(5, 10, 40, 0.2f);
  e.cells.push_back(5, 12, 40, 0.3f);
  e.cells.push_back(5, 11, 40, 0.4f);
  e.cells.push_back(6, 3, 7, 1.0f);
  const auto fb = builder({{"cell_count", 1.f},
                           {"cell_value", 1.f},
                           {"leta", 1.f},
                           {"lphi", 1.f},
                           {"lx", 1.f},
                           {"ly", 1.f},
                           {"lz", 1.f},
                           {"geta", 1.f},
                           {"gphi", 1.f}});
  REQUIRE(FeatureBuilder::needsCells(fb.config()));
  const auto f = fb.build(e);
  REQUIRE(f.size() == 18);
  const double rot[3][3] = {{0.0784591, -0.996917, 0}, {-0.996917, -0.0784591, 0}, {0, 0, -1}};
  const auto check = [&](std::size_t row, double cells, double value, double lu, double lv) {
    const double lw = 0.3;
    const float* got = &f[row * 9];
    CHECK(got[0] == Approx(cells));
    CHECK(got[1] == Approx(value));
    // Pseudorapidity -ln tan(theta / 2) with theta = arccos(z / |l|), as Exa.TrkX does.
    const double theta = std::acos(lw / std::sqrt(lu * lu + lv * lv + lw * lw));
    CHECK(got[2] == Approx(-std::log(std::tan(theta / 2))));
    CHECK(got[3] == Approx(std::atan2(lv, lu)));
    CHECK(got[4] == Approx(lu));
    CHECK(got[5] == Approx(lv));
    CHECK(got[6] == Approx(lw));
    double g[3];
    for (int a = 0; a < 3; ++a) g[a] = rot[a][0] * lu + rot[a][1] * lv + rot[a][2] * lw;
    const double gTheta = std::acos(g[2] / std::sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]));
    CHECK(got[7] == Approx(-std::log(std::tan(gTheta / 2))));
    CHECK(got[8] == Approx(std::atan2(g[1], g[0])));
  };
  check(0, 3, 0.9, 3 * 0.05, 1 * 0.05625);
  check(1, 1, 1.0, 0.05, 0.05625);
}

TEST_CASE("cluster-shape features say what is missing", "[pipeline][features]") {
  Event e;
  e.eventId = 8;
  e.hits.push_back(5, -65.f, -5.f, -1502.f, 7, 2, 1);
  e.hits.push_back(6, 1.f, 1.f, 1.f, 7, 2, 99999);
  e.cells.push_back(5, 10, 40, 0.2f);
  e.cells.push_back(6, 10, 40, 0.2f);
  const auto fb = builder({{"lx", 1.f}});
  REQUIRE_THROWS_WITH(fb.build(e, "f.h5"),
                      HasSubstring("f.h5") && HasSubstring("hit 6 is on module (volume 7, "
                                                           "layer 2, module 99999)"));
  e.hits.moduleId[1] = 1;
  e.cells.hitId[1] = 5;  // hit 6 now has no cells
  REQUIRE_THROWS_WITH(fb.build(e, "f.h5"), HasSubstring("hit 6 has no cells"));
  e.cells.clear();
  REQUIRE_THROWS_WITH(fb.build(e, "f.h5"), HasSubstring("the event has no cells"));
  FeatureBuilder::Config c;
  c.features = {{"geta", 1.f}};
  c.detector = "/nonexistent/detectors.csv";
  REQUIRE_THROWS_WITH(FeatureBuilder(c), HasSubstring("feature 'geta' needs the module geometry") &&
                                             HasSubstring("/nonexistent/detectors.csv"));
}
