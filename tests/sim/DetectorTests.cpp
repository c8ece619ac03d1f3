#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <tuple>

#include "SimTestUtil.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/ModuleGrid.hpp"

using trkaas::Detector;
using trkaas::Module;
using trkaas::Vector3;
using trkaas::test::contains;
using trkaas::test::thrownMessage;

namespace {

const char* kHeader =
    "volume_id,layer_id,module_id,cx,cy,cz,rot_xu,rot_xv,rot_xw,rot_yu,rot_yv,rot_yw,rot_zu,"
    "rot_zv,rot_zw,module_t,module_minhu,module_maxhu,module_hv,pitch_u,pitch_v\n";

std::string writeFile(const std::string& name, const std::string& text) {
  const std::string path = std::string(TRKAAS_TEST_TMP) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

const Detector& fullDetector() {
  static const Detector detector = Detector::load(Detector::defaultPath());
  return detector;
}

}  // namespace

TEST_CASE("Detector: loads a small file exactly", "[sim][detector]") {
  const std::string path =
      writeFile("small.csv", std::string(kHeader) +
                                 "8,4,2,10,20,30,0,-1,0,1,0,0,0,0,1,0.15,8,9,36,0.05,0.06\n"
                                 "7,2,5,-1,-2,-1500,1,0,0,0,1,0,0,0,1,0.25,16.4,24.2,78,0.08,1.2\n"
                                 "8,4,1,1,2,3,1,0,0,0,1,0,0,0,1,0.35,54,64.2,78,0.12,10.4\n");
  const Detector det = Detector::load(path);
  REQUIRE(det.size() == 3);
  // Sorted by (volume, layer, module).
  CHECK(det.modules()[0].volumeId == 7);
  CHECK(det.modules()[1].moduleId == 1);
  CHECK(det.modules()[2].moduleId == 2);
  const Module* m = det.find(8, 4, 2);
  REQUIRE(m != nullptr);
  CHECK(m->centre[0] == 10.0);
  CHECK(m->centre[1] == 20.0);
  CHECK(m->centre[2] == 30.0);
  CHECK(m->rot[1] == -1.0);  // rot_xv
  CHECK(m->rot[3] == 1.0);   // rot_yu
  CHECK(m->thickness == 0.15);
  CHECK(m->minHu == 8.0);
  CHECK(m->maxHu == 9.0);
  CHECK(m->hv == 36.0);
  CHECK(m->pitchU == 0.05);
  CHECK(m->pitchV == 0.06);
  CHECK(det.find(8, 4, 3) == nullptr);
  CHECK(det.find(9, 4, 2) == nullptr);
  CHECK(det.volumes() == std::vector<std::int32_t>{7, 8});
  // Local <-> global with u along +y and v along -x.
  const Vector3 g = m->toGlobal({1.0, 2.0, 0.5});
  CHECK(g.x == Approx(8.0));
  CHECK(g.y == Approx(21.0));
  CHECK(g.z == Approx(30.5));
  const Vector3 l = m->toLocal(g);
  CHECK(l.x == Approx(1.0));
  CHECK(l.y == Approx(2.0));
  CHECK(l.z == Approx(0.5));
  // Trapezoid: half width 8 at v = -hv, 9 at v = +hv.
  CHECK(m->contains(8.4, 35.0));
  CHECK_FALSE(m->contains(8.4, -35.0));
  CHECK_FALSE(m->contains(0.0, 36.5));

  const Detector only7 = Detector::load(path, {7});
  REQUIRE(only7.size() == 1);
  CHECK(only7.modules()[0].volumeId == 7);
}

TEST_CASE("Detector: the shipped TrackML detector", "[sim][detector]") {
  const Detector& det = fullDetector();
  CHECK(det.size() == 18728);
  CHECK(det.volumes() == std::vector<std::int32_t>{7, 8, 9, 12, 13, 14, 16, 17, 18});
  std::set<std::tuple<int, int, int>> ids;
  for (const Module& m : det.modules()) {
    ids.emplace(m.volumeId, m.layerId, m.moduleId);
    CHECK(det.find(m.volumeId, m.layerId, m.moduleId) == &m);
  }
  CHECK(ids.size() == det.size());

  const Detector pixel = Detector::load(Detector::defaultPath(), {7, 8, 9});
  const auto nPixel = std::count_if(det.modules().begin(), det.modules().end(),
                                    [](const Module& m) { return m.volumeId <= 9; });
  CHECK(pixel.size() == static_cast<std::size_t>(nPixel));
  CHECK(pixel.volumes() == std::vector<std::int32_t>{7, 8, 9});
}

TEST_CASE("Detector: default path, overridden by TRKAAS_DETECTOR", "[sim][detector]") {
  ::unsetenv("TRKAAS_DETECTOR");
  CHECK(Detector::defaultPath() == std::string(TRKAAS_DATA_DIR) + "/trackml/detectors.csv.gz");
  ::setenv("TRKAAS_DETECTOR", "/elsewhere/detectors.csv", 1);
  CHECK(Detector::defaultPath() == "/elsewhere/detectors.csv");
  ::unsetenv("TRKAAS_DETECTOR");
}

TEST_CASE("Detector: bad input names the file and the line", "[sim][detector]") {
  const std::string good = "8,4,2,10,20,30,0,-1,0,1,0,0,0,0,1,0.15,8,9,36,0.05,0.06\n";
  SECTION("wrong number of fields") {
    const std::string path = writeFile("short.csv", std::string(kHeader) + good + "8,4,3,1,2\n");
    REQUIRE_THROWS_AS(Detector::load(path), trkaas::InputError);
    {
      const std::string msg = thrownMessage([&] { (void)Detector::load(path); });
      INFO(msg);
      CHECK(contains(msg, "line 3"));
      CHECK(contains(msg, path));
    }
  }
  SECTION("not a number") {
    const std::string path =
        writeFile("nan.csv", std::string(kHeader) +
                                 "8,4,2,10,abc,30,0,-1,0,1,0,0,0,0,1,0.15,8,9,36,0.05,0.06\n");
    {
      const std::string msg = thrownMessage([&] { (void)Detector::load(path); });
      INFO(msg);
      CHECK(contains(msg, "line 2"));
      CHECK(contains(msg, "'cy'"));
    }
  }
  SECTION("missing column") {
    const std::string path = writeFile("nocol.csv", "volume_id,layer_id,module_id\n1,2,3\n");
    {
      const std::string msg = thrownMessage([&] { (void)Detector::load(path); });
      INFO(msg);
      CHECK(contains(msg, "cx"));
    }
  }
  SECTION("non-orthonormal rotation") {
    const std::string path =
        writeFile("rot.csv", std::string(kHeader) +
                                 "8,4,2,10,20,30,0,-2,0,1,0,0,0,0,1,0.15,8,9,36,0.05,0.06\n");
    {
      const std::string msg = thrownMessage([&] { (void)Detector::load(path); });
      INFO(msg);
      CHECK(contains(msg, "orthonormal"));
    }
  }
  SECTION("duplicate module") {
    const std::string path = writeFile("dup.csv", std::string(kHeader) + good + good);
    {
      const std::string msg = thrownMessage([&] { (void)Detector::load(path); });
      INFO(msg);
      CHECK(contains(msg, "duplicate"));
    }
  }
  SECTION("unknown volume") {
    const std::string path = writeFile("vol.csv", std::string(kHeader) + good);
    {
      const std::string msg = thrownMessage([&] { (void)Detector::load(path, {8, 5}); });
      INFO(msg);
      CHECK(contains(msg, "volume 5"));
    }
  }
  SECTION("missing file") {
    REQUIRE_THROWS_AS(Detector::load(std::string(TRKAAS_TEST_TMP) + "/absent.csv"),
                      trkaas::InputError);
  }
}

TEST_CASE("ModuleGrid: every module near a point is a candidate", "[sim][detector]") {
  const Detector& det = fullDetector();
  trkaas::ModuleGrid::Config config;
  config.margin = 6.0;
  const trkaas::ModuleGrid grid(det.modules(), {}, config);
  std::mt19937_64 engine(42);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::size_t checked = 0;
  std::size_t totalCandidates = 0;
  for (std::size_t i = 0; i < det.size(); i += 7) {
    const Module& m = det.modules()[i];
    // A random point on the module, then moved by less than the margin.
    const double v = unit(engine) * m.hv;
    const double u = unit(engine) * m.halfWidthAt(v);
    const double w = unit(engine) * 0.5 * m.thickness;
    Vector3 offset{unit(engine), unit(engine), unit(engine)};
    offset = offset.unit() * (std::abs(unit(engine)) * config.margin * 0.999);
    const Vector3 q = m.toGlobal({u, v, w}) + offset;
    const auto range = grid.candidates(q.x, q.y, q.z);
    const bool found =
        std::find(range.begin(), range.end(), static_cast<std::uint32_t>(i)) != range.end();
    CHECK(found);
    totalCandidates += range.size();
    ++checked;
  }
  CHECK(checked > 2000);
  // Selective: on average far fewer candidates than modules.
  CHECK(static_cast<double>(totalCandidates) / checked < 60.0);
  CHECK(grid.candidates(0.0, 0.0, 5000.0).size() == 0);
  CHECK(grid.candidates(3000.0, 0.0, 0.0).size() == 0);
  CHECK(grid.rMax() > 1000.0);
  CHECK(grid.rMax() < 1100.0);

  trkaas::ModuleGrid::Config bad;
  bad.phiBins = 0;
  {
    const std::string msg =
        thrownMessage([&] { (void)trkaas::ModuleGrid(det.modules(), {}, bad); });
    INFO(msg);
    CHECK(contains(msg, "phiBins"));
  }
}
