#include <cmath>
#include <map>
#include <memory>
#include <vector>

#include "TrkaasCatch.hpp"
#include "trkaas/sim/Clusters.hpp"
#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/EventGenerator.hpp"

using namespace trkaas;

namespace {
/// A rectangular module 2 x 4 mm, pitch 0.05 x 0.1 mm, half thickness 0.15 mm.
Module flatModule() {
  Module m;
  m.minHu = m.maxHu = 1.0;
  m.hv = 2.0;
  m.thickness = 0.15;
  m.pitchU = 0.05;
  m.pitchV = 0.1;
  return m;
}
double total(const std::vector<Cell>& cells) {
  double s = 0;
  for (const Cell& c : cells) s += c.value;
  return s;
}
}  // namespace

TEST_CASE("a particle at normal incidence fires the one cell under it", "[sim][clusters]") {
  const Module m = flatModule();
  // u = 0.12 mm from the centre: (0.12 + 1.0) / 0.05 = 22.4 -> channel 22; v = -0.33:
  // (-0.33 + 2.0) / 0.1 = 16.7 -> channel 16.
  const auto cells = clusterCells(m, 0.12, -0.33, {0.0, 0.0, 1.0});
  REQUIRE(cells.size() == 1);
  CHECK(cells[0].ch0 == 22);
  CHECK(cells[0].ch1 == 16);
  CHECK(cells[0].value == Approx(1.0));
}

TEST_CASE("an inclined particle fires the cells its path crosses", "[sim][clusters]") {
  const Module m = flatModule();
  // Direction (1, 0, 1): the path crosses 2 * 0.15 = 0.3 mm in u, from u = 0.01 - 0.15 to
  // 0.01 + 0.15, i.e. channels floor(0.86 / 0.05) = 17 .. floor(1.16 / 0.05) = 23.
  const auto cells = clusterCells(m, 0.01, 0.0, {1.0, 0.0, 1.0});
  REQUIRE(cells.size() == 7);
  for (std::size_t k = 0; k < cells.size(); ++k) {
    CHECK(cells[k].ch0 == 17 + static_cast<int>(k));
    CHECK(cells[k].ch1 == 20);
  }
  // The path is sqrt(2) thicknesses long; inner cells get a full pitch of it (0.05 of
  // 0.3 mm in u), the two end cells the rest.
  CHECK(total(cells) == Approx(std::sqrt(2.0)).epsilon(1e-3));
  CHECK(cells[3].value == Approx(std::sqrt(2.0) * 0.05 / 0.3).epsilon(0.02));
  // Backwards along the same line: the same cells.
  const auto back = clusterCells(m, 0.01, 0.0, {-1.0, 0.0, -1.0});
  REQUIRE(back.size() == cells.size());
  // Along v the pitch is 0.1: 0.6 mm (d = (0, 1, 0.5)) from v = -0.29 to 0.31 -> channels
  // floor(1.71 / 0.1) = 17 .. floor(2.31 / 0.1) = 23.
  const auto alongV = clusterCells(m, 0.0, 0.01, {0.0, 1.0, 0.5});
  REQUIRE(alongV.size() == 7);
  CHECK(alongV.front().ch1 == 17);
  CHECK(alongV.back().ch1 == 23);
}

TEST_CASE("clusters are capped and stay on the module", "[sim][clusters]") {
  const Module m = flatModule();
  // Nearly in the plane: capped at maxCells, centred on the hit.
  const auto grazing = clusterCells(m, 0.0, 0.0, {1.0, 0.0, 1e-6}, 16);
  CHECK(grazing.size() == 16);
  // At the module's edge the channels are clamped to the grid (u in [-1, 1]: 0 .. 39).
  const auto edge = clusterCells(m, 0.99, 0.0, {1.0, 0.0, 1.0});
  for (const Cell& c : edge) {
    CHECK(c.ch0 >= 0);
    CHECK(c.ch0 <= 39);
  }
  CHECK(edge.back().ch0 == 39);
}

TEST_CASE("generated events carry cells whose extent follows the crossing angle",
          "[sim][clusters][generator]") {
  const auto detector = std::make_shared<const Detector>(Detector::load(Detector::defaultPath()));
  GeneratorConfig config;
  config.pileup = 5;
  config.seed = 77;
  config.cells = true;
  config.volumes = {8};  // the pixel barrel: v runs along z on every module
  const EventGenerator generator(detector, config);
  const Event e = generator.generate(3);
  REQUIRE(e.hasCells());
  std::map<std::int64_t, std::pair<int, int>> extentV;  // hit -> min, max ch1
  std::map<std::int64_t, int> count;
  for (std::size_t c = 0; c < e.cells.size(); ++c) {
    auto [it, fresh] = extentV.try_emplace(e.cells.hitId[c], e.cells.ch1[c], e.cells.ch1[c]);
    it->second.first = std::min(it->second.first, e.cells.ch1[c]);
    it->second.second = std::max(it->second.second, e.cells.ch1[c]);
    ++count[e.cells.hitId[c]];
  }
  REQUIRE(count.size() == e.hits.size());  // every hit has cells
  // In the barrel a particle at pseudorapidity eta crosses the 0.3 mm sensor over
  // 0.3 |sinh(eta)| mm along z (= v), i.e. about that / pitch_v + 1 channels. Compare
  // over the hits of particles (not noise) with |sinh(eta)| > 2, where the cluster is long.
  int checked = 0, close = 0;
  for (std::size_t i = 0; i < e.hits.size(); ++i) {
    if (e.truth.particleId[i] == 0) continue;
    const double pz = e.truth.tpz[i], pt = std::hypot(e.truth.tpx[i], e.truth.tpy[i]);
    const double sinhEta = std::abs(pz / pt);
    if (sinhEta < 2.0) continue;
    const Module* m = detector->find(e.hits.volumeId[i], e.hits.layerId[i], e.hits.moduleId[i]);
    REQUIRE(m != nullptr);
    const double expected = 2.0 * m->thickness * sinhEta / m->pitchV;
    const auto [lo, hi] = extentV.at(e.hits.hitId[i]);
    ++checked;
    close += std::abs(double(hi - lo) - expected) <= 0.15 * expected + 1.0;
  }
  REQUIRE(checked > 20);
  CHECK(close >= 0.9 * checked);
}
