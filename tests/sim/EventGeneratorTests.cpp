#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <tuple>

#include "EventCompare.hpp"
#include "SimTestUtil.hpp"
#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/EventGenerator.hpp"
#include "trkaas/sim/PtSpectrum.hpp"

using trkaas::Detector;
using trkaas::Event;
using trkaas::EventGenerator;
using trkaas::GeneratorConfig;
using trkaas::Module;
using trkaas::Vector3;
using trkaas::test::contains;
using trkaas::test::sameEvent;
using trkaas::test::thrownMessage;

namespace {

std::shared_ptr<const Detector> detector() {
  static const auto det = std::make_shared<const Detector>(Detector::load(Detector::defaultPath()));
  return det;
}

GeneratorConfig smallConfig() {
  GeneratorConfig config;
  config.pileup = 10;
  config.hardScatter = true;
  config.seed = 2024;
  return config;
}

Vector3 local(const Module& m, double x, double y, double z) {
  // Written out here (not Module::toLocal) so that the check is independent: R^T (x - c).
  const double d[3] = {x - m.centre[0], y - m.centre[1], z - m.centre[2]};
  Vector3 l;
  l.x = m.rot[0] * d[0] + m.rot[3] * d[1] + m.rot[6] * d[2];
  l.y = m.rot[1] * d[0] + m.rot[4] * d[1] + m.rot[7] * d[2];
  l.z = m.rot[2] * d[0] + m.rot[5] * d[1] + m.rot[8] * d[2];
  return l;
}

std::size_t countVertices(const Event& e) {
  std::set<std::int64_t> vertices;
  for (std::int64_t id : e.particles.particleId) vertices.insert(id >> 24);
  return vertices.size();
}

}  // namespace

TEST_CASE("EventGenerator: every hit lies on its module", "[sim][generator]") {
  const EventGenerator gen(detector(), smallConfig());
  const Event e = gen.generate(3);
  REQUIRE(e.hits.size() > 1000);
  REQUIRE(e.truth.size() == e.hits.size());
  // Float storage of coordinates up to 3 m: allow 2e-3 mm of rounding.
  const double tol = 2e-3;
  std::size_t signal = 0;
  for (std::size_t i = 0; i < e.hits.size(); ++i) {
    const Module* m = detector()->find(e.hits.volumeId[i], e.hits.layerId[i], e.hits.moduleId[i]);
    REQUIRE(m != nullptr);
    const Vector3 meas = local(*m, e.hits.x[i], e.hits.y[i], e.hits.z[i]);
    CHECK(std::abs(meas.z) <= 0.5 * m->thickness);
    CHECK(std::abs(meas.y) <= m->hv + tol);
    const double v = std::clamp(meas.y, -m->hv, m->hv);
    const double halfWidth = m->minHu + (m->maxHu - m->minHu) * (v + m->hv) / (2 * m->hv);
    CHECK(std::abs(meas.x) <= halfWidth + tol);
    if (e.truth.particleId[i] == 0) continue;
    ++signal;
    // The true crossing lies on the module plane inside the module, and the measurement
    // is within one pitch of it.
    const Vector3 tru = local(*m, e.truth.tx[i], e.truth.ty[i], e.truth.tz[i]);
    CHECK(std::abs(tru.z) <= tol);
    CHECK(std::abs(tru.y) <= m->hv + tol);
    CHECK(std::abs(meas.x - tru.x) <= 0.5 * m->pitchU + tol);
    CHECK(std::abs(meas.y - tru.y) <= 0.5 * m->pitchV + tol);
  }
  CHECK(signal > 0);
}

TEST_CASE("EventGenerator: ids, order, truth and weights are consistent", "[sim][generator]") {
  GeneratorConfig config = smallConfig();
  config.noiseFraction = 0.05;
  const EventGenerator gen(detector(), config);
  const Event e = gen.generate(11);
  REQUIRE_NOTHROW(trkaas::validateEvent(e, "generated"));
  REQUIRE(e.eventId == 11);
  // Hit ids 1..N in (volume, layer, module) order.
  for (std::size_t i = 0; i < e.hits.size(); ++i) {
    CHECK(e.hits.hitId[i] == static_cast<std::int64_t>(i + 1));
    if (i == 0) continue;
    const auto prev =
        std::make_tuple(e.hits.volumeId[i - 1], e.hits.layerId[i - 1], e.hits.moduleId[i - 1]);
    const auto cur = std::make_tuple(e.hits.volumeId[i], e.hits.layerId[i], e.hits.moduleId[i]);
    CHECK(prev <= cur);
  }
  // Particles: unique positive ids, nHits = hits they own, charge +-1, |eta| < etaMax.
  std::map<std::int64_t, std::int32_t> hitsOf;
  std::size_t noise = 0;
  double weightSum = 0.0;
  for (std::size_t i = 0; i < e.hits.size(); ++i) {
    weightSum += e.truth.weight[i];
    CHECK(e.truth.weight[i] >= 0.0f);
    if (e.truth.particleId[i] == 0) {
      ++noise;
      CHECK(e.truth.weight[i] == 0.0f);
    } else {
      ++hitsOf[e.truth.particleId[i]];
    }
  }
  CHECK(weightSum == Approx(1.0).epsilon(1e-4));
  const std::size_t nSignal = e.hits.size() - noise;
  CHECK(noise == static_cast<std::size_t>(std::llround(0.05 * nSignal)));
  std::set<std::int64_t> ids;
  for (std::size_t p = 0; p < e.particles.size(); ++p) {
    const std::int64_t id = e.particles.particleId[p];
    CHECK(id > 0);
    ids.insert(id);
    CHECK(e.particles.nHits[p] == hitsOf[id]);
    CHECK(std::abs(e.particles.charge[p]) == 1);
    const double pt = trkaas::particlePt(e.particles, p);
    CHECK(pt >= 0.0999);
    CHECK(std::abs(std::asinh(e.particles.pz[p] / pt)) < 4.0001);
  }
  CHECK(ids.size() == e.particles.size());
  for (const auto& [id, n] : hitsOf) CHECK(ids.count(id) == 1);
  // TrackML's weights (trackml-library weight_hits_phase1): particles with fewer than 4 hits
  // weigh nothing; every other particle's hits sum to its pT weight (0.2 up to 0.5 GeV,
  // linear to 1 at 3 GeV) over the event's total. The order within a particle is checked
  // against the library's own formula by tests/app/trackml_weights_test.py.
  std::map<std::int64_t, double> weightOf;
  for (std::size_t i = 0; i < e.hits.size(); ++i) {
    const std::int64_t id = e.truth.particleId[i];
    if (id != 0) weightOf[id] += e.truth.weight[i];
    if (id != 0 && hitsOf[id] < 4) CHECK(e.truth.weight[i] == 0.0f);
  }
  double perUnit = -1.0;
  std::size_t weighed = 0;
  for (std::size_t p = 0; p < e.particles.size(); ++p) {
    if (e.particles.nHits[p] < 4) continue;
    const double pt = trkaas::particlePt(e.particles, p);
    const double ptWeight = pt <= 0.5 ? 0.2 : pt >= 3.0 ? 1.0 : 0.2 + 0.32 * (pt - 0.5);
    const double ratio = weightOf[e.particles.particleId[p]] / ptWeight;
    if (perUnit < 0.0) perUnit = ratio;
    CHECK(ratio == Approx(perUnit).epsilon(1e-4));
    ++weighed;
  }
  CHECK(weighed > 10);
}

TEST_CASE("EventGenerator: same seed and event id give identical events", "[sim][generator]") {
  const EventGenerator gen(detector(), smallConfig());
  const Event a = gen.generate(5);
  // Another event in between, then from another generator instance and another thread.
  (void)gen.generate(6);
  const Event b = gen.generate(5);
  const EventGenerator gen2(detector(), smallConfig());
  Event c;
  Event d;
  std::thread t1([&] { c = gen2.generate(5); });
  std::thread t2([&] { d = gen.generate(5); });
  t1.join();
  t2.join();
  CHECK(sameEvent(a, b));
  CHECK(sameEvent(a, c));
  CHECK(sameEvent(a, d));

  GeneratorConfig other = smallConfig();
  other.seed = 2025;
  const Event differentSeed = EventGenerator(detector(), other).generate(5);
  CHECK_FALSE(sameEvent(a, differentSeed));
  CHECK(a.hits.x != differentSeed.hits.x);
  Event differentId = gen.generate(4);
  CHECK(differentId.hits.x != a.hits.x);
  differentId.eventId = a.eventId;
  CHECK_FALSE(sameEvent(a, differentId));
}

TEST_CASE("EventGenerator: hits grow about linearly with pile-up", "[sim][generator]") {
  GeneratorConfig config;
  config.volumes = {7, 8, 9};
  config.fixedPileup = true;
  config.seed = 77;
  config.pileup = 20;
  const EventGenerator low(detector(), config);
  config.pileup = 80;
  const EventGenerator high(detector(), config);
  double hitsLow = 0;
  double hitsHigh = 0;
  for (int e = 0; e < 3; ++e) {
    const Event a = low.generate(e);
    const Event b = high.generate(e);
    CHECK(countVertices(a) <= 20);
    CHECK(countVertices(b) <= 80);
    CHECK(countVertices(b) >= 75);  // a vertex without particles has probability e^-36
    hitsLow += static_cast<double>(a.hits.size());
    hitsHigh += static_cast<double>(b.hits.size());
  }
  REQUIRE(hitsLow > 0);
  const double ratio = hitsHigh / hitsLow;
  CHECK(ratio > 3.4);
  CHECK(ratio < 4.6);
}

TEST_CASE("EventGenerator: Poisson pile-up has the requested mean", "[sim][generator]") {
  GeneratorConfig config;
  config.volumes = {8};
  config.pileup = 12;
  config.seed = 3;
  const EventGenerator gen(detector(), config);
  double sum = 0;
  std::set<std::size_t> seen;
  const int nEvents = 40;
  for (int e = 0; e < nEvents; ++e) {
    const std::size_t n = countVertices(gen.generate(e));
    sum += static_cast<double>(n);
    seen.insert(n);
  }
  // Mean 12 +- 3 sigma of the mean (sqrt(12/40) = 0.55); a fixed count would not vary.
  CHECK(sum / nEvents == Approx(12.0).margin(1.7));
  CHECK(seen.size() > 3);
}

TEST_CASE("EventGenerator: volume selection gives hits in those volumes only", "[sim][generator]") {
  for (const std::vector<std::int32_t>& volumes :
       {std::vector<std::int32_t>{7, 8, 9}, std::vector<std::int32_t>{13}}) {
    GeneratorConfig config = smallConfig();
    config.volumes = volumes;
    const EventGenerator gen(detector(), config);
    const Event e = gen.generate(1);
    REQUIRE(e.hits.size() > 100);
    std::set<std::int32_t> seen(e.hits.volumeId.begin(), e.hits.volumeId.end());
    for (std::int32_t v : seen) {
      CHECK(std::find(volumes.begin(), volumes.end(), v) != volumes.end());
    }
    CHECK(seen.size() == volumes.size());
  }
}

TEST_CASE("EventGenerator: without scattering, hits lie on the particle's helix",
          "[sim][generator]") {
  GeneratorConfig config = smallConfig();
  config.multipleScattering = false;
  config.hitInefficiency = 0.0;
  config.noiseFraction = 0.0;
  const EventGenerator gen(detector(), config);
  const Event e = gen.generate(2);
  std::map<std::int64_t, std::size_t> particleIndex;
  for (std::size_t p = 0; p < e.particles.size(); ++p) particleIndex[e.particles.particleId[p]] = p;
  std::size_t checked = 0;
  for (std::size_t i = 0; i < e.hits.size(); ++i) {
    REQUIRE(e.truth.particleId[i] != 0);
    const std::size_t p = particleIndex.at(e.truth.particleId[i]);
    const double px = e.particles.px[p];
    const double py = e.particles.py[p];
    const double pt = std::hypot(px, py);
    const double q = e.particles.charge[p];
    // Circle of radius pT / (0.3 B) through the vertex; for q B > 0 the particle turns
    // clockwise, so the centre is to the right of its direction.
    const double r = pt / (0.299792458 * config.bField) * 1000.0;
    const double side = q * config.bField > 0 ? 1.0 : -1.0;
    const double cx = e.particles.vx[p] + side * r * py / pt;
    const double cy = e.particles.vy[p] - side * r * px / pt;
    const double dist = std::hypot(e.truth.tx[i] - cx, e.truth.ty[i] - cy);
    CHECK(dist == Approx(r).margin(2e-3 + 2e-6 * r));
    // Momentum magnitude and pz are conserved.
    CHECK(e.truth.tpz[i] == Approx(e.particles.pz[p]).epsilon(1e-5));
    CHECK(std::hypot(e.truth.tpx[i], e.truth.tpy[i]) == Approx(pt).epsilon(1e-5));
    ++checked;
  }
  CHECK(checked > 1000);
}

TEST_CASE("EventGenerator: physics content is plausible", "[sim][generator]") {
  GeneratorConfig config;
  config.pileup = 60;
  config.fixedPileup = true;
  config.volumes = {8};
  config.seed = 99;
  const EventGenerator gen(detector(), config);
  const Event e = gen.generate(0);
  const trkaas::Particles& p = e.particles;
  REQUIRE(p.size() > 1000);
  std::vector<double> pts;
  std::size_t positive = 0;
  std::size_t pions = 0;
  double sumZ = 0;
  double sumZ2 = 0;
  std::map<std::int64_t, double> vertexZ;
  for (std::size_t i = 0; i < p.size(); ++i) {
    pts.push_back(trkaas::particlePt(p, i));
    positive += p.charge[i] > 0 ? 1 : 0;
    pions += std::abs(p.pdgId[i]) == 211 ? 1 : 0;
    vertexZ[p.particleId[i] >> 24] = p.vz[i];
    CHECK(std::hypot(p.vx[i], p.vy[i]) < 0.2);
    // PDG sign follows the charge (negative leptons have positive ids).
    const int base = std::abs(p.pdgId[i]);
    const bool lepton = base == 11 || base == 13;
    CHECK((p.pdgId[i] > 0) == (lepton ? p.charge[i] < 0 : p.charge[i] > 0));
  }
  std::sort(pts.begin(), pts.end());
  const double median = pts[pts.size() / 2];
  CHECK(median > 0.15);
  CHECK(median < 1.0);
  CHECK(pts.back() > 3.0);  // the tail reaches several GeV
  const double n = static_cast<double>(p.size());
  CHECK(positive / n == Approx(0.5).margin(0.06));
  CHECK(pions / n > 0.6);
  CHECK(pions / n < 0.95);
  for (const auto& [v, z] : vertexZ) {
    sumZ += z;
    sumZ2 += z * z;
  }
  const double nv = static_cast<double>(vertexZ.size());
  const double sigmaZ = std::sqrt(sumZ2 / nv - (sumZ / nv) * (sumZ / nv));
  CHECK(sigmaZ == Approx(config.beamSigmaZ).epsilon(0.3));
  // Loopers keep their hits: a soft central particle crosses the innermost barrel
  // layer several times.
  std::map<std::int64_t, int> innermost;
  for (std::size_t i = 0; i < e.hits.size(); ++i) {
    if (e.hits.layerId[i] == 2 && e.truth.particleId[i] != 0) ++innermost[e.truth.particleId[i]];
  }
  int maxCrossings = 0;
  for (const auto& [id, k] : innermost) maxCrossings = std::max(maxCrossings, k);
  CHECK(maxCrossings >= 4);
  // Overlapping modules: one particle, one layer, two modules, a few mm apart.
  std::size_t overlaps = 0;
  for (std::size_t i = 0; i < e.hits.size(); ++i) {
    for (std::size_t j = i + 1; j < e.hits.size(); ++j) {
      if (e.truth.particleId[i] == 0 || e.truth.particleId[j] != e.truth.particleId[i]) continue;
      if (e.hits.layerId[i] != e.hits.layerId[j] || e.hits.moduleId[i] == e.hits.moduleId[j]) {
        continue;
      }
      const double d = std::hypot(e.truth.tx[i] - e.truth.tx[j], e.truth.ty[i] - e.truth.ty[j],
                                  e.truth.tz[i] - e.truth.tz[j]);
      overlaps += d < 20.0 ? 1 : 0;
    }
  }
  CHECK(overlaps > 10);
}

TEST_CASE("EventGenerator: hard scatter adds high-pT particles", "[sim][generator]") {
  GeneratorConfig config;
  config.pileup = 0;
  config.hardScatter = true;
  config.hardScatterParticles = 40;
  config.volumes = {8};
  const EventGenerator gen(detector(), config);
  double hard = 0;
  for (int ev = 0; ev < 5; ++ev) {
    const Event e = gen.generate(ev);
    REQUIRE(countVertices(e) == 1);
    for (std::size_t i = 0; i < e.particles.size(); ++i) {
      hard += trkaas::particlePt(e.particles, i) >= config.hardScatterPtMin ? 1 : 0;
    }
  }
  // 40 hard particles per event plus a few soft ones above 1 GeV.
  CHECK(hard / 5 > 30);
  CHECK(hard / 5 < 60);
}

TEST_CASE("EventGenerator: inefficiency and noise", "[sim][generator]") {
  GeneratorConfig config = smallConfig();
  config.volumes = {7, 8, 9};
  config.hitInefficiency = 0.0;
  config.noiseFraction = 0.0;
  const Event perfect = EventGenerator(detector(), config).generate(8);
  CHECK(std::count(perfect.truth.particleId.begin(), perfect.truth.particleId.end(), 0) == 0);
  config.hitInefficiency = 0.5;
  const Event half = EventGenerator(detector(), config).generate(8);
  const double ratio = static_cast<double>(half.hits.size()) / perfect.hits.size();
  CHECK(ratio > 0.4);
  CHECK(ratio < 0.6);
  config.hitInefficiency = 0.0;
  config.noiseFraction = 0.2;
  const Event noisy = EventGenerator(detector(), config).generate(8);
  const auto noise = std::count(noisy.truth.particleId.begin(), noisy.truth.particleId.end(), 0);
  CHECK(static_cast<double>(noise) / (noisy.hits.size() - noise) == Approx(0.2).margin(0.01));
}

TEST_CASE("EventGenerator: invalid configs throw a precise message", "[sim][generator]") {
  const auto message = [](const GeneratorConfig& c) {
    return thrownMessage([&] { EventGenerator gen(detector(), c); });
  };
  GeneratorConfig c;
  c.pileup = -1;
  CHECK(contains(message(c), "pileup must be >= 0"));
  REQUIRE_THROWS_AS(EventGenerator(detector(), c), trkaas::Error);
  c = GeneratorConfig();
  c.volumes = {7, 5};
  CHECK(contains(message(c), "volume 5 is not in the detector"));
  c = GeneratorConfig();
  c.pileup = 0;
  CHECK(contains(message(c), "every event would be empty"));
  c = GeneratorConfig();
  c.hitInefficiency = 1.5;
  CHECK(contains(message(c), "hitInefficiency"));
  c = GeneratorConfig();
  c.stepLength = 0;
  CHECK(contains(message(c), "stepLength"));
  c = GeneratorConfig();
  c.spectrum.n = 1.5;
  CHECK(contains(message(c), "n must be > 2"));
  c = GeneratorConfig();
  c.noiseFraction = -0.1;
  CHECK(contains(message(c), "noiseFraction"));
  REQUIRE_THROWS_AS(EventGenerator(nullptr, GeneratorConfig()), trkaas::Error);
}

TEST_CASE("PtSpectrum: soft peak, normalised, tail to tens of GeV", "[sim][generator]") {
  const trkaas::PtSpectrum spectrum(trkaas::PtSpectrum::Config{});
  CHECK(spectrum.peak() < 1.0);
  CHECK(spectrum.peak() > spectrum.config().ptMin);
  // Density integrates to 1 (trapezoid rule on a log grid) and matches the CDF.
  double integral = 0.0;
  const int n = 20000;
  const double a = std::log(0.1);
  const double b = std::log(100.0);
  double half = 0.0;
  for (int i = 0; i < n; ++i) {
    const double p0 = std::exp(a + (b - a) * i / n);
    const double p1 = std::exp(a + (b - a) * (i + 1) / n);
    integral += 0.5 * (spectrum.density(p0) + spectrum.density(p1)) * (p1 - p0);
    if (p1 <= 1.0) half = integral;
  }
  CHECK(integral == Approx(1.0).epsilon(1e-4));
  CHECK(spectrum.cdf(1.0) == Approx(half).epsilon(1e-3));
  // Sampling inverts the CDF.
  for (double u : {0.01, 0.25, 0.5, 0.75, 0.99, 0.999999}) {
    CHECK(spectrum.cdf(spectrum.sample(u)) == Approx(u).epsilon(1e-4));
  }
  CHECK(spectrum.sample(0.5) < 1.0);
  CHECK(spectrum.sample(1.0 - 1e-7) > 10.0);
  trkaas::PtSpectrum::Config bad;
  bad.ptMin = 2.0;
  bad.ptMax = 1.0;
  REQUIRE_THROWS_AS(trkaas::PtSpectrum(bad), trkaas::Error);
}

TEST_CASE("events are never empty, even at very low pile-up in one volume", "[sim][generator]") {
  GeneratorConfig c;
  c.pileup = 0.2;  // Poisson: about 82% of raw draws have no vertex at all
  c.volumes = {8};
  c.seed = 99;
  const EventGenerator generator(detector(), c);
  for (std::int64_t id = 0; id < 30; ++id) {
    const Event e = generator.generate(id);
    REQUIRE(!e.hits.empty());
    REQUIRE_NOTHROW(trkaas::validateEvent(e, "generated"));
    REQUIRE(sameEvent(e, generator.generate(id)));  // the redraw is deterministic too
  }
}

TEST_CASE("pile-up 200 gives on the order of 100k hits over the full detector",
          "[sim][generator]") {
  GeneratorConfig c;
  c.pileup = 200;
  c.fixedPileup = true;
  c.seed = 5;
  const Event e = EventGenerator(detector(), c).generate(0);
  // TrackML's pile-up-200 ttbar events hold 100-120k hits.
  CHECK(e.hits.size() > 80000);
  CHECK(e.hits.size() < 130000);
  CHECK(e.particles.size() > 5000);
}
