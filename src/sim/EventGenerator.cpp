#include "trkaas/sim/EventGenerator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

#include "Random.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/sim/Bremsstrahlung.hpp"
#include "trkaas/sim/Clusters.hpp"
#include "trkaas/sim/Decay.hpp"
#include "trkaas/sim/Helix.hpp"
#include "trkaas/sim/ParticleId.hpp"

namespace trkaas {

namespace {

constexpr double kSiliconX0 = 93.7;  ///< mm, radiation length of silicon
/// g/cm2 of silicon per mm of it.
constexpr double kSiliconMassPerMm = 0.1 * EnergyLoss::kDensity;
/// Below this beta gamma a particle stops (Bethe-Bloch no longer holds; a proton there
/// has ~5 MeV left, less than one module takes).
constexpr double kStopBetaGamma = 0.1;
/// Random streams of the optional physics, apart from the streams of the default events:
/// per particle combine(particle stream, kPhysicsStream); secondaries k = 0, 1, ... follow
/// combine(combine(event seed, kSecondaryStreams), k). Noise uses combine(event, ~0).
constexpr std::uint64_t kPhysicsStream = 0x5048595349435321ULL;
constexpr std::uint64_t kSecondaryStreams = ~1ULL;
/// Per particle, decays draw from combine(particle stream, kDecayStream).
constexpr std::uint64_t kDecayStream = 0x4445434159532121ULL;
/// ... and bremsstrahlung from combine(particle stream, kBremStream).
constexpr std::uint64_t kBremStream = 0x4252454D53535452ULL;
/// Secondaries start on the module plane: the step is at most this fraction of their
/// helix radius, so that the chord test sees their loops (primaries keep `stepLength`).
constexpr double kSecondaryStepPerRadius = 0.25;
constexpr double kMaxParticlesPerVertex = 1e6;
/// Crossings closer than this to the start of a step that begins on a module are the
/// module just crossed (or one touching it there): not crossed again.
constexpr double kRestartTolerance = 1e-6;
/// Cosine of the incidence angle below which the material path stops growing.
constexpr double kMinCosIncidence = 0.05;
/// Safety bound on the number of steps per particle.
constexpr std::int64_t kMaxSteps = 1000000;

/// Charged species of soft particles with their share and mass (GeV).
struct Species {
  std::int32_t pdg;  ///< PDG id of the positive hadron / negative lepton
  double mass;
  double share;
  bool lepton;  ///< leptons: positive pdg id = negative charge
};
constexpr Species kSpecies[] = {
    {211, 0.13957039, 0.78, false},   // pions
    {321, 0.493677, 0.12, false},     // kaons
    {2212, 0.93827209, 0.07, false},  // protons
    {11, 0.00051099895, 0.02, true},  // electrons
    {13, 0.1056583755, 0.01, true},   // muons
};

std::int32_t signedPdg(const Species& s, int charge) {
  const bool positiveId = s.lepton ? charge < 0 : charge > 0;
  return positiveId ? s.pdg : -s.pdg;
}

/// The measured mix (`measuredSpecies`): ALICE, "Production of light-flavor hadrons in pp
/// collisions at sqrt(s) = 7 and 13 TeV", Eur. Phys. J. C 81 (2021) 256, arXiv:2005.11120;
/// pT-integrated yield ratios at 13 TeV, |y| < 0.5, HEPData ins1797443 tables 35 and 36
/// (doi:10.17182/hepdata.100303.v1): (K+ + K-) / (pi+ + pi-) = 0.1299 +- 0.0092 and
/// (p + pbar) / (pi+ + pi-) = 0.0576 +- 0.0049. Electrons keep the basic mix's 2% (not
/// sourced); no primary muons: they come from the decays in flight.
constexpr double kKaonsPerPion = 0.1299;
constexpr double kProtonsPerPion = 0.0576;
constexpr double kMeasuredElectrons = 0.02;
constexpr double kMeasuredPions =
    (1.0 - kMeasuredElectrons) / (1.0 + kKaonsPerPion + kProtonsPerPion);
constexpr Species kMeasuredSpecies[] = {
    {211, 0.13957039, kMeasuredPions, false},
    {321, 0.493677, kMeasuredPions* kKaonsPerPion, false},
    {2212, 0.93827209, kMeasuredPions* kProtonsPerPion, false},
    {11, 0.00051099895, kMeasuredElectrons, true},
};

template <std::size_t N>
const Species& pickFrom(const Species (&table)[N], double u) {
  double acc = 0.0;
  for (const Species& s : table) {
    acc += s.share;
    if (u < acc) return s;
  }
  return table[0];
}

const Species& pickSpecies(double u, bool measured) {
  return measured ? pickFrom(kMeasuredSpecies, u) : pickFrom(kSpecies, u);
}

// ---- TrackML's hit weights -------------------------------------------------------------
// As the challenge's scoring library computes them (trackml-library, weights.py,
// weight_hits_phase1; the accuracy phase's score): a hit's weight is the product of
//  - a weight by the particle's pT: 0 below 0.05 GeV, 0.2 up to 0.5 GeV, rising linearly
//    to 1 at 3 GeV;
//  - a weight by the hit's place along the particle, its rank by |z - z of the particle's
//    vertex| (true positions): the proposal 10 8 6 5 3 3 3 5 6 stretched over the
//    particle's hits, normalised so that each particle's hits sum to 1. Particles with
//    fewer than 4 hits weigh nothing; above 20 hits the profile of 20 is used and the
//    hits past the 20th weigh nothing; hits at the same distance share a rank, the
//    library's (pandas' average rank, truncated);
// then normalised over the event. Hits without a particle (noise) weigh nothing.

constexpr std::size_t kOrderMinHits = 4;
constexpr std::size_t kOrderMaxHits = 20;

double ptWeight(double pt) {
  if (pt < 0.05) return 0.0;
  if (pt <= 0.5) return 0.2;
  if (pt >= 3.0) return 1.0;
  return 0.2 + 0.8 * (pt - 0.5) / 2.5;
}

/// The order weights of the hits of a particle with n hits (kOrderMinHits <= n <=
/// kOrderMaxHits), summing to 1.
std::vector<double> orderWeights(std::size_t n) {
  constexpr std::array<double, 9> proposal = {10., 8., 6., 5., 3., 3., 3., 5., 6.};
  const double step = static_cast<double>(n - 1) / static_cast<double>(proposal.size() - 1);
  std::vector<double> w(n);
  double sum = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    // Piecewise-linear through (j * step, proposal[j]).
    const double x = static_cast<double>(k) / step;
    const auto j = std::min(static_cast<std::size_t>(x), proposal.size() - 2);
    const double f = x - static_cast<double>(j);
    w[k] = proposal[j] + f * (proposal[j + 1] - proposal[j]);
    sum += w[k];
  }
  for (double& v : w) v /= sum;
  return w;
}

const std::vector<double>& orderWeightTable(std::size_t n) {
  static const auto table = [] {
    std::vector<std::vector<double>> t(kOrderMaxHits + 1);
    for (std::size_t k = kOrderMinHits; k <= kOrderMaxHits; ++k) t[k] = orderWeights(k);
    return t;
  }();
  return table[n];
}

std::string str(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0' && s.find('.') != std::string::npos) s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw Error("GeneratorConfig: " + message);
}

}  // namespace

struct EventGenerator::Particle {
  std::int64_t id = 0;
  std::int32_t pdg = 0;
  double mass = 0;
  int charge = 0;
  Vector3 vertex;
  Vector3 momentum;
  bool secondary = false;  ///< made in the material: starts on a module plane
};

/// Per-event scratch of the optional physics.
struct EventGenerator::Scratch {
  EnergyLoss::Crossing crossing;
  std::vector<HadronicInteraction::Secondary> hadrons;
  std::vector<Particle> secondaries;
  std::int64_t made = 0;  ///< secondaries of the particle being propagated
};

struct EventGenerator::SimHit {
  std::uint32_t module = 0;
  std::int32_t particle = -1;  ///< index into the event's particles, -1 = noise
  Vector3 truePosition;
  Vector3 trueMomentum;
  Vector3 measured;
};

struct EventGenerator::Surface {
  Vector3 centre, u, v, n;
  double minHu = 0, maxHu = 0, hv = 0, pitchU = 0, pitchV = 0;
  double xOverX0 = 0;      ///< at normal incidence
  double sensorMass = 0;   ///< g/cm2 of silicon at normal incidence
  double supportMass = 0;  ///< g/cm2, support as silicon of the same radiation length

  double halfWidthAt(double vv) const { return minHu + (maxHu - minHu) * (vv + hv) / (2.0 * hv); }
};

EventGenerator::~EventGenerator() = default;
EventGenerator::EventGenerator(EventGenerator&&) noexcept = default;
EventGenerator& EventGenerator::operator=(EventGenerator&&) noexcept = default;

EventGenerator::EventGenerator(std::shared_ptr<const Detector> detector, GeneratorConfig config)
    : m_detector(std::move(detector)), m_config(std::move(config)), m_spectrum(m_config.spectrum) {
  const GeneratorConfig& c = m_config;
  if (!m_detector) throw Error("EventGenerator: no detector");
  require(std::isfinite(c.pileup) && c.pileup >= 0.0,
          "pileup must be >= 0 vertices (got " + str(c.pileup) + ")");
  require(c.pileup <= 100000.0, "pileup must be <= 100000 (got " + str(c.pileup) + ")");
  require(c.pileup > 0.0 || c.hardScatter,
          "pileup is 0 and hardScatter is off: every event would be empty");
  require(std::isfinite(c.particlesPerVertex) && c.particlesPerVertex >= 0.0 &&
              c.particlesPerVertex < kMaxParticlesPerVertex,
          "particlesPerVertex must be in [0, 1e6) (got " + str(c.particlesPerVertex) + ")");
  require(std::isfinite(c.hardScatterParticles) && c.hardScatterParticles >= 0.0 &&
              c.hardScatterParticles < kMaxParticlesPerVertex / 2,
          "hardScatterParticles must be in [0, 5e5) (got " + str(c.hardScatterParticles) + ")");
  require(std::isfinite(c.hardScatterPtMin) && c.hardScatterPtMin > 0.0,
          "hardScatterPtMin must be > 0 GeV (got " + str(c.hardScatterPtMin) + ")");
  require(std::isfinite(c.hardScatterPtMean) && c.hardScatterPtMean >= 0.0,
          "hardScatterPtMean must be >= 0 GeV (got " + str(c.hardScatterPtMean) + ")");
  require(std::isfinite(c.hardScatterEtaMax) && c.hardScatterEtaMax > 0.0,
          "hardScatterEtaMax must be > 0 (got " + str(c.hardScatterEtaMax) + ")");
  require(std::isfinite(c.etaMax) && c.etaMax > 0.0 && c.etaMax <= 10.0,
          "etaMax must be in (0, 10] (got " + str(c.etaMax) + ")");
  require(std::isfinite(c.beamSigmaZ) && c.beamSigmaZ >= 0.0,
          "beamSigmaZ must be >= 0 mm (got " + str(c.beamSigmaZ) + ")");
  require(std::isfinite(c.beamSigmaT) && c.beamSigmaT >= 0.0,
          "beamSigmaT must be >= 0 mm (got " + str(c.beamSigmaT) + ")");
  require(std::isfinite(c.bField), "bField must be finite (got " + str(c.bField) + ")");
  require(c.hitInefficiency >= 0.0 && c.hitInefficiency <= 1.0,
          "hitInefficiency must be in [0, 1] (got " + str(c.hitInefficiency) + ")");
  require(std::isfinite(c.noiseFraction) && c.noiseFraction >= 0.0 && c.noiseFraction <= 100.0,
          "noiseFraction must be in [0, 100] noise hits per particle hit (got " +
              str(c.noiseFraction) + ")");
  require(std::isfinite(c.supportMaterial) && c.supportMaterial >= 0.0,
          "supportMaterial must be >= 0 radiation lengths (got " + str(c.supportMaterial) + ")");
  require(!c.deltaElectrons || c.energyLoss,
          "deltaElectrons needs energyLoss (the deltas are part of the energy loss)");
  require(std::isfinite(c.deltaElectronMinEnergy) && c.deltaElectronMinEnergy > 0.0,
          "deltaElectronMinEnergy must be > 0 GeV (got " + str(c.deltaElectronMinEnergy) + ")");
  require(std::isfinite(c.stepLength) && c.stepLength > 0.0 && c.stepLength <= 200.0,
          "stepLength must be in (0, 200] mm (got " + str(c.stepLength) + ")");
  require(std::isfinite(c.maxTurns) && c.maxTurns > 0.0,
          "maxTurns must be > 0 (got " + str(c.maxTurns) + ")");
  require(std::isfinite(c.maxPathLength) && c.maxPathLength > 0.0,
          "maxPathLength must be > 0 mm (got " + str(c.maxPathLength) + ")");
  require(std::isfinite(c.envelopeR) && c.envelopeR > 0.0,
          "envelopeR must be > 0 mm (got " + str(c.envelopeR) + ")");
  require(std::isfinite(c.envelopeZ) && c.envelopeZ > 0.0,
          "envelopeZ must be > 0 mm (got " + str(c.envelopeZ) + ")");
  for (std::int32_t v : c.volumes) {
    if (!m_detector->hasVolume(v)) {
      std::string have;
      for (std::int32_t h : m_detector->volumes()) {
        have += (have.empty() ? "" : ", ") + std::to_string(h);
      }
      throw Error("GeneratorConfig: volume " + std::to_string(v) + " is not in the detector " +
                  m_detector->source() + " (it has volumes " + have + ")");
    }
  }

  const std::vector<Module>& modules = m_detector->modules();
  m_surfaces.resize(modules.size());
  for (std::size_t i = 0; i < modules.size(); ++i) {
    const Module& m = modules[i];
    const bool selected = c.volumes.empty() || std::find(c.volumes.begin(), c.volumes.end(),
                                                         m.volumeId) != c.volumes.end();
    if (!selected) continue;
    m_selected.push_back(static_cast<std::uint32_t>(i));
    Surface& s = m_surfaces[i];
    s.centre = m.centreVector();
    s.u = m.axisU();
    s.v = m.axisV();
    s.n = m.normal();
    s.minHu = m.minHu;
    s.maxHu = m.maxHu;
    s.hv = m.hv;
    s.pitchU = m.pitchU;
    s.pitchV = m.pitchV;
    s.xOverX0 = m.thickness / kSiliconX0 + c.supportMaterial;
    s.sensorMass = m.thickness * kSiliconMassPerMm;
    s.supportMass = c.supportMaterial * EnergyLoss::kRadiationLength;
  }
  // The step is looked up at its chord's middle: every point of the step lies within
  // half a step plus the sagitta (< 1 mm for R > 13 mm at 10 mm steps) of it.
  ModuleGrid::Config gridConfig;
  gridConfig.margin = 0.5 * c.stepLength + 1.0;
  m_grid = std::make_unique<ModuleGrid>(modules, m_selected, gridConfig);
  // Loopers that leave the selected modules radially may come back: they run on to the
  // detector envelope. Beyond the selected modules in z they cannot (pz is constant
  // where there is no material), so they stop there.
  m_rStop = c.envelopeR;
  m_zStopLow = std::max(-c.envelopeZ, m_grid->zMin() - c.stepLength);
  m_zStopHigh = std::min(c.envelopeZ, m_grid->zMax() + c.stepLength);
}

void EventGenerator::propagate(const Particle& particle, std::uint64_t streamSeed,
                               std::vector<SimHit>& hits, Scratch& scratch,
                               bool makeSecondaries) const {
  Random rng(streamSeed);
  const GeneratorConfig& c = m_config;
  const bool material = c.energyLoss || c.hadronicInteractions || c.bremsstrahlung;
  Random physicsRng(Random::combine(streamSeed, kPhysicsStream));
  Random bremRng(Random::combine(streamSeed, kBremStream));
  scratch.made = 0;
  const double q = particle.charge;
  Helix helix(particle.vertex, particle.momentum, q, c.bField);
  double p = helix.p();
  double beta = p / std::sqrt(p * p + particle.mass * particle.mass);
  const double maxPath = std::min(c.maxPathLength, c.maxTurns * helix.turnLength());
  const auto stepFor = [&](const Helix& h) {
    return particle.secondary ? std::min(c.stepLength, kSecondaryStepPerRadius * h.radius())
                              : c.stepLength;
  };
  double ds = stepFor(helix);
  // Decays in flight: a proper path length (c tau units) is drawn once and used up at
  // ds m / p along the way; `decayAt` is where it runs out on the current helix.
  constexpr double kNever = std::numeric_limits<double>::infinity();
  const bool decays = c.decays && makeSecondaries && Decay::properLength(particle.pdg) > 0.0;
  Random decayRng(Random::combine(streamSeed, kDecayStream));
  double properLeft = decays ? decayRng.exponential(Decay::properLength(particle.pdg)) : kNever;
  double decayAt = decays ? properLeft * p / particle.mass : kNever;

  double travelled = 0.0;  // path length up to the current helix origin
  double s0 = 0.0;
  Vector3 x0 = helix.origin();
  bool fresh = particle.secondary;  // the current step starts on a module just crossed
  for (std::int64_t step = 0; step < kMaxSteps && travelled + s0 < maxPath; ++step) {
    // Far from the selected modules (outside their bounding cylinder) a longer step is
    // safe: no module can be crossed before the particle has come back to it.
    const double outside =
        std::max({x0.perp() - m_grid->rMax(), m_grid->zMin() - x0.z, x0.z - m_grid->zMax()});
    const double s1 = std::min({s0 + std::max(ds, outside), maxPath - travelled, decayAt});
    const Vector3 x1 = helix.position(s1);
    const Vector3 mid = (x0 + x1) * 0.5;

    double best = std::numeric_limits<double>::infinity();
    std::uint32_t bestModule = 0;
    Vector3 bestPos;
    double bestU = 0.0;
    double bestV = 0.0;
    for (std::uint32_t m : m_grid->candidates(mid.x, mid.y, mid.z)) {
      const Surface& sf = m_surfaces[m];
      const double f0 = sf.n.dot(x0 - sf.centre);
      const double f1 = sf.n.dot(x1 - sf.centre);
      if ((f0 > 0.0 && f1 > 0.0) || (f0 < 0.0 && f1 < 0.0) || (f0 == 0.0 && f1 == 0.0)) continue;
      if (fresh && std::abs(f0) < kRestartTolerance) continue;
      const double sc = helix.planeCrossing(sf.n, sf.centre, s0, s1, f0, f1);
      if (!(sc < best)) continue;
      const Vector3 xc = helix.position(sc);
      const Vector3 d = xc - sf.centre;
      const double u = sf.u.dot(d);
      const double v = sf.v.dot(d);
      if (std::abs(v) > sf.hv || std::abs(u) > sf.halfWidthAt(v)) continue;
      best = sc;
      bestModule = m;
      bestPos = xc;
      bestU = u;
      bestV = v;
    }

    if (best < std::numeric_limits<double>::infinity()) {
      const Surface& sf = m_surfaces[bestModule];
      Vector3 dir = helix.direction(best);
      const Vector3 dirIn = dir;
      if (rng.uniform() >= c.hitInefficiency) {
        // Digitisation-like smearing: uniform over one pitch (RMS pitch/sqrt(12)),
        // kept inside the module and on its plane.
        double u = bestU + sf.pitchU * (rng.uniform() - 0.5);
        double v = bestV + sf.pitchV * (rng.uniform() - 0.5);
        v = std::clamp(v, -sf.hv, sf.hv);
        const double hu = sf.halfWidthAt(v);
        u = std::clamp(u, -hu, hu);
        SimHit hit;
        hit.module = bestModule;
        hit.truePosition = bestPos;
        hit.trueMomentum = dir * p;
        hit.measured = sf.centre + sf.u * u + sf.v * v;
        hits.push_back(hit);
      }
      if (c.multipleScattering) {
        // Highland formula with the material path at this incidence angle.
        const double cosInc = std::max(std::abs(dir.dot(sf.n)), kMinCosIncidence);
        const double x = sf.xOverX0 / cosInc;
        const double theta0 = 13.6e-3 / (beta * p) * std::abs(q) * std::sqrt(x) *
                              std::max(0.0, 1.0 + 0.038 * std::log(x * q * q / (beta * beta)));
        const Vector3 axis = std::abs(dir.z) < 0.9 ? Vector3{0, 0, 1} : Vector3{1, 0, 0};
        const Vector3 e1 = dir.cross(axis).unit();
        const Vector3 e2 = dir.cross(e1);
        const double t1 = theta0 * rng.normal();
        const double t2 = theta0 * rng.normal();
        dir = (dir + e1 * std::tan(std::clamp(t1, -1.5, 1.5)) +
               e2 * std::tan(std::clamp(t2, -1.5, 1.5)))
                  .unit();
      }
      const double pBefore = p;
      if (material) {
        if (!interact(particle, sf, bestPos, dirIn, p, physicsRng, bremRng, scratch,
                      makeSecondaries)) {
          break;
        }
        beta = p / std::sqrt(p * p + particle.mass * particle.mass);
      }
      if (decays) {
        properLeft -= best * particle.mass / pBefore;
        decayAt = std::max(0.0, properLeft) * p / particle.mass;
      }
      travelled += best;
      helix = Helix(bestPos, dir * p, q, c.bField);
      ds = stepFor(helix);
      s0 = 0.0;
      x0 = bestPos;
      fresh = true;
      continue;
    }

    if (s1 >= decayAt) {  // decays before the next module: the daughter carries on
      Decay::Daughter daughter;
      if (Decay::chargedDaughter(particle.pdg, particle.charge, helix.momentum(s1), decayRng,
                                 daughter)) {
        addSecondary(particle, ParticleId::Process::kDecay, daughter.pdg, daughter.mass,
                     daughter.charge, x1, daughter.momentum, scratch);
      }
      break;
    }
    s0 = s1;
    x0 = x1;
    fresh = false;
    const double dz = helix.startDirection().z;
    if (x0.perp() > m_rStop || (x0.z > m_zStopHigh && dz >= 0.0) ||
        (x0.z < m_zStopLow && dz <= 0.0)) {
      break;
    }
  }
}

void EventGenerator::addSecondary(const Particle& parent, ParticleId::Process process,
                                  std::int32_t pdg, double mass, int charge,
                                  const Vector3& position, const Vector3& momentum,
                                  Scratch& scratch) {
  if (scratch.made >= ParticleId::kMaxSecondaries) return;
  Particle s;
  s.id = ParticleId::secondary(parent.id, process, ++scratch.made);
  s.pdg = pdg;
  s.mass = mass;
  s.charge = charge;
  s.vertex = position;
  s.momentum = momentum;
  s.secondary = true;
  scratch.secondaries.push_back(s);
}

bool EventGenerator::interact(const Particle& particle, const Surface& sf, const Vector3& position,
                              const Vector3& dir, double& p, Random& rng, Random& bremRng,
                              Scratch& scratch, bool makeSecondaries) const {
  const GeneratorConfig& c = m_config;
  const double m = particle.mass;
  const double cosInc = std::max(std::abs(dir.dot(sf.n)), kMinCosIncidence);
  const double total = (sf.sensorMass + sf.supportMass) / cosInc;
  const Vector3 axis = std::abs(dir.z) < 0.9 ? Vector3{0, 0, 1} : Vector3{1, 0, 0};
  const Vector3 e1 = dir.cross(axis).unit();
  const Vector3 e2 = dir.cross(e1);

  if (c.energyLoss) {
    m_energyLoss.sample(m, p, total, rng, scratch.crossing);
    for (double t : scratch.crossing.deltas) {
      if (!c.deltaElectrons || !makeSecondaries) break;
      // Made at a depth uniform in the module's material; the support's are absorbed.
      const double depth = rng.uniform() * total * cosInc;
      if (depth >= sf.sensorMass) continue;
      const double cosTheta = EnergyLoss::deltaCosTheta(m, p, t);
      const double sinTheta = std::sqrt(std::max(0.0, 1.0 - cosTheta * cosTheta));
      const double phi = rng.uniform(0.0, 2.0 * M_PI);
      const Vector3 d =
          (dir * cosTheta + e1 * (sinTheta * std::cos(phi)) + e2 * (sinTheta * std::sin(phi)))
              .unit();
      // Straight path (g/cm2) to the sensor face it heads for, at its own angle.
      const double cosOut = d.dot(sf.n);
      const double toFace = cosOut > 0.0 ? sf.sensorMass - depth : depth;
      const double path = toFace / std::max(std::abs(cosOut), kMinCosIncidence);
      const double left = EnergyLoss::electronEnergyAfter(t, path);
      if (left < c.deltaElectronMinEnergy) continue;
      const double pe = std::sqrt(left * left + 2.0 * EnergyLoss::kElectronMass * left);
      addSecondary(particle, ParticleId::Process::kDeltaElectron, 11, EnergyLoss::kElectronMass, -1,
                   position, d * pe, scratch);
    }
    const double e = std::sqrt(p * p + m * m) - scratch.crossing.loss;
    if (e <= m) return false;
    p = std::sqrt(e * e - m * m);
    if (p < kStopBetaGamma * m) return false;
  }
  if (c.bremsstrahlung && Bremsstrahlung::radiates(particle.pdg)) {
    // The energy kept after the module's radiation lengths at this incidence (the photon
    // is not tracked).
    const double e = Bremsstrahlung::sampleEnergyFraction(sf.xOverX0 / cosInc, bremRng) *
                     std::sqrt(p * p + m * m);
    if (e <= m) return false;
    p = std::sqrt(e * e - m * m);
    if (p < kStopBetaGamma * m) return false;
  }
  if (c.hadronicInteractions && HadronicInteraction::interacts(particle.pdg) &&
      rng.uniform() < HadronicInteraction::probability(total)) {
    if (makeSecondaries) {
      m_hadronic.finalState(dir * p, rng, scratch.hadrons);
      for (const HadronicInteraction::Secondary& h : scratch.hadrons) {
        addSecondary(particle, ParticleId::Process::kHadronic, h.pdg, h.mass, h.charge, position,
                     h.momentum, scratch);
      }
    }
    return false;
  }
  return true;
}

Event EventGenerator::generate(std::int64_t eventId) const {
  // An event without a single hit (only possible at very low pile-up or with few
  // volumes) is drawn again from the next stream, as a trigger would: event files never
  // hold empty events, and the first attempt keeps the plain (seed, eventId) stream.
  constexpr int kMaxAttempts = 1000;
  const std::uint64_t baseSeed =
      Random::combine(m_config.seed, static_cast<std::uint64_t>(eventId));
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const std::uint64_t eventSeed =
        attempt == 0 ? baseSeed : Random::combine(baseSeed, static_cast<std::uint64_t>(attempt));
    Event event = generateFromSeed(eventId, eventSeed);
    if (!event.hits.empty()) return event;
  }
  throw Error("EventGenerator: event " + std::to_string(eventId) + " left no hits in " +
              std::to_string(kMaxAttempts) +
              " attempts; raise the pile-up, add the hard scatter or select more volumes");
}

Event EventGenerator::generateFromSeed(std::int64_t eventId, std::uint64_t eventSeed) const {
  const GeneratorConfig& c = m_config;
  Random rng(eventSeed);

  // ---- vertices and particles ------------------------------------------------------
  const std::int64_t nPileup =
      c.fixedPileup ? static_cast<std::int64_t>(std::llround(c.pileup)) : rng.poisson(c.pileup);
  const std::int64_t nVertices = nPileup + (c.hardScatter ? 1 : 0);
  std::vector<Particle> particles;
  particles.reserve(static_cast<std::size_t>(nVertices * (c.particlesPerVertex * 1.2 + 10) +
                                             (c.hardScatter ? c.hardScatterParticles * 2 : 0)));
  for (std::int64_t vtx = 0; vtx < nVertices; ++vtx) {
    const Vector3 vertex{c.beamSigmaT * rng.normal(), c.beamSigmaT * rng.normal(),
                         c.beamSigmaZ * rng.normal()};
    const bool hard = c.hardScatter && vtx == 0;
    const std::int64_t nHard = hard ? rng.poisson(c.hardScatterParticles) : 0;
    const std::int64_t nSoft = rng.poisson(c.particlesPerVertex);
    for (std::int64_t j = 0; j < nHard + nSoft; ++j) {
      Particle part;
      part.id = ParticleId::primary(vtx + 1, j + 1);
      double pt = 0.0;
      double eta = 0.0;
      if (j < nHard) {
        pt = c.hardScatterPtMin + rng.exponential(c.hardScatterPtMean);
        eta = rng.uniform(-c.hardScatterEtaMax, c.hardScatterEtaMax);
      } else {
        pt = m_spectrum.sample(rng.uniform());
        eta = rng.uniform(-c.etaMax, c.etaMax);
      }
      const double phi = rng.uniform(-M_PI, M_PI);
      part.charge = rng.uniform() < 0.5 ? -1 : 1;
      const Species& species = pickSpecies(rng.uniform(), c.measuredSpecies);
      part.pdg = signedPdg(species, part.charge);
      part.mass = species.mass;
      part.vertex = vertex;
      part.momentum = {pt * std::cos(phi), pt * std::sin(phi), pt * std::sinh(eta)};
      particles.push_back(part);
    }
  }

  // ---- propagation -------------------------------------------------------------------
  // Primaries first, each on its stream (i + 1); then the secondaries they made, in the
  // order they were made, each on a stream of its own.
  std::vector<SimHit> hits;
  hits.reserve(particles.size() * 12);
  std::vector<std::size_t> firstHit(1, 0);
  firstHit.reserve(particles.size() + 1);
  Scratch scratch;
  const std::size_t nPrimaries = particles.size();
  const bool secondaries = c.deltaElectrons || c.hadronicInteractions || c.decays;
  const std::uint64_t secondarySeed = Random::combine(eventSeed, kSecondaryStreams);
  for (std::size_t i = 0; i < particles.size(); ++i) {
    const std::size_t before = hits.size();
    const std::uint64_t stream = i < nPrimaries ? Random::combine(eventSeed, i + 1)
                                                : Random::combine(secondarySeed, i - nPrimaries);
    propagate(particles[i], stream, hits, scratch, secondaries && i < nPrimaries);
    for (std::size_t h = before; h < hits.size(); ++h)
      hits[h].particle = static_cast<std::int32_t>(i);
    firstHit.push_back(hits.size());
    if (i + 1 == nPrimaries && !scratch.secondaries.empty()) {
      particles.insert(particles.end(), scratch.secondaries.begin(), scratch.secondaries.end());
      scratch.secondaries.clear();
    }
  }
  const std::size_t nSignal = hits.size();

  // ---- noise -----------------------------------------------------------------------
  if (c.noiseFraction > 0.0 && !m_selected.empty()) {
    Random noiseRng(Random::combine(eventSeed, ~0ULL));
    const auto nNoise = static_cast<std::size_t>(std::llround(c.noiseFraction * nSignal));
    for (std::size_t k = 0; k < nNoise; ++k) {
      const std::uint32_t m = m_selected[noiseRng.below(m_selected.size())];
      const Surface& sf = m_surfaces[m];
      const double huMax = std::max(sf.minHu, sf.maxHu);
      double u = 0.0;
      double v = 0.0;
      do {  // uniform over the trapezoid by rejection from its bounding rectangle
        u = noiseRng.uniform(-huMax, huMax);
        v = noiseRng.uniform(-sf.hv, sf.hv);
      } while (std::abs(u) > sf.halfWidthAt(v));
      SimHit hit;
      hit.module = m;
      hit.measured = sf.centre + sf.u * u + sf.v * v;
      hit.truePosition = hit.measured;
      hits.push_back(hit);
    }
  }

  // ---- weights -----------------------------------------------------------------------
  std::vector<double> weight(hits.size(), 0.0);
  double weightSum = 0.0;
  std::vector<std::pair<float, std::size_t>> rank;
  for (std::size_t i = 0; i < particles.size(); ++i) {
    const std::size_t n = firstHit[i + 1] - firstHit[i];
    const double wp = ptWeight(particles[i].momentum.perp());
    if (n < kOrderMinHits || wp == 0.0) continue;
    // Ranked by the file's columns as written (float).
    const auto vz = static_cast<float>(particles[i].vertex.z);
    rank.clear();
    for (std::size_t h = firstHit[i]; h < firstHit[i + 1]; ++h)
      rank.emplace_back(std::abs(static_cast<float>(hits[h].truePosition.z) - vz), h);
    std::stable_sort(rank.begin(), rank.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    const std::vector<double>& order = orderWeightTable(std::min(n, kOrderMaxHits));
    for (std::size_t s = 0; s < n;) {
      // Tied hits share the library's rank: pandas' average rank, 0-based, truncated.
      std::size_t e = s + 1;
      while (e < n && rank[e].first == rank[s].first) ++e;
      const std::size_t k = (s + e - 1) / 2;
      const double w = k < order.size() ? wp * order[k] : 0.0;
      for (; s < e; ++s) {
        weight[rank[s].second] = w;
        weightSum += w;
      }
    }
  }
  if (weightSum > 0.0) {
    for (double& w : weight) w /= weightSum;
  }

  // ---- event: hits sorted by (volume, layer, module) = module index ------------------
  std::vector<std::uint32_t> order(hits.size());
  std::iota(order.begin(), order.end(), 0U);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return hits[a].module < hits[b].module;
  });

  Event event;
  event.eventId = eventId;
  event.hits.reserve(hits.size());
  event.truth.reserve(hits.size());
  const std::vector<Module>& modules = m_detector->modules();
  for (std::size_t k = 0; k < order.size(); ++k) {
    const SimHit& h = hits[order[k]];
    const Module& m = modules[h.module];
    event.hits.push_back(static_cast<std::int64_t>(k + 1), static_cast<float>(h.measured.x),
                         static_cast<float>(h.measured.y), static_cast<float>(h.measured.z),
                         m.volumeId, m.layerId, m.moduleId);
    const std::int64_t pid =
        h.particle < 0 ? 0 : particles[static_cast<std::size_t>(h.particle)].id;
    event.truth.push_back(
        pid, static_cast<float>(h.truePosition.x), static_cast<float>(h.truePosition.y),
        static_cast<float>(h.truePosition.z), static_cast<float>(h.trueMomentum.x),
        static_cast<float>(h.trueMomentum.y), static_cast<float>(h.trueMomentum.z),
        static_cast<float>(weight[order[k]]));
    if (c.cells) {
      // The cluster of the crossing: the local direction of the particle (noise: along
      // the normal, one cell) at the measured point.
      const Vector3 local = m.toLocal(h.measured);
      const Vector3 dir =
          h.particle < 0 ? Vector3{0.0, 0.0, 1.0}
                         : Vector3{m.axisU().dot(h.trueMomentum), m.axisV().dot(h.trueMomentum),
                                   m.normal().dot(h.trueMomentum)};
      for (const Cell& cell : clusterCells(m, local.x, local.y, dir)) {
        event.cells.push_back(static_cast<std::int64_t>(k + 1), cell.ch0, cell.ch1, cell.value);
      }
    }
  }
  for (std::size_t i = 0; i < particles.size(); ++i) {
    const Particle& pa = particles[i];
    event.particles.push_back(pa.id, pa.pdg, static_cast<float>(pa.vertex.x),
                              static_cast<float>(pa.vertex.y), static_cast<float>(pa.vertex.z),
                              static_cast<float>(pa.momentum.x), static_cast<float>(pa.momentum.y),
                              static_cast<float>(pa.momentum.z), pa.charge,
                              static_cast<std::int32_t>(firstHit[i + 1] - firstHit[i]));
  }
  return event;
}

}  // namespace trkaas
