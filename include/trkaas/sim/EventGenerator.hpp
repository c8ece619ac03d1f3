#pragma once
/// Simulated TrackML-like collision events: pile-up vertices from a beam spot, charged
/// particles on helices in a solenoid, hits on the real TrackML modules, with truth.

#include <cstdint>
#include <memory>
#include <vector>

#include "trkaas/core/Event.hpp"
#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/EnergyLoss.hpp"
#include "trkaas/sim/HadronicInteraction.hpp"
#include "trkaas/sim/ModuleGrid.hpp"
#include "trkaas/sim/ParticleId.hpp"
#include "trkaas/sim/PtSpectrum.hpp"

namespace trkaas {

class Random;

/// Everything that shapes a generated event. Units: mm, GeV, tesla.
struct GeneratorConfig {
  // ---- event content -------------------------------------------------------------
  /// Pile-up vertices per event: the mean of a Poisson distribution, or the exact number
  /// (rounded) when `fixedPileup` is true. 0 is allowed with `hardScatter`.
  double pileup = 200;
  bool fixedPileup = false;
  /// Adds a ttbar-like vertex: `hardScatterParticles` (Poisson mean) particles with
  /// pT = hardScatterPtMin + exponential(hardScatterPtMean), |eta| < hardScatterEtaMax,
  /// on top of a soft underlying event like a pile-up vertex.
  bool hardScatter = false;
  double hardScatterParticles = 40;
  double hardScatterPtMin = 1.0;   ///< GeV
  double hardScatterPtMean = 5.0;  ///< GeV, of the exponential part
  double hardScatterEtaMax = 2.5;
  /// Master seed; event `id` uses the stream (seed, id), independent of other events.
  std::uint64_t seed = 1;
  /// Volumes that produce hits and material; empty = all. Each must exist in the detector.
  /// Other volumes are neither hit nor material: particles cross them unhindered.
  std::vector<std::int32_t> volumes;

  // ---- soft particles ------------------------------------------------------------
  /// Mean number of charged particles per pile-up vertex (Poisson), with |eta| < etaMax
  /// (flat in eta and phi) and pT from `spectrum` (Hagedorn, peak near 0.2 GeV). The
  /// default gives about 100k hits at pile-up 200 on the full detector, as in TrackML.
  /// Species: 78% pions, 12% kaons, 7% protons, 2% electrons, 1% muons; charge +-1 (a
  /// plausible mix, not sourced; `measuredSpecies` replaces it).
  double particlesPerVertex = 36;
  double etaMax = 4.0;
  PtSpectrum::Config spectrum;

  // ---- beam spot -----------------------------------------------------------------
  double beamSigmaZ = 55.0;   ///< mm, Gaussian width of vertex z
  double beamSigmaT = 0.015;  ///< mm, Gaussian width of vertex x and y

  // ---- detector response ---------------------------------------------------------
  double bField = 2.0;  ///< T, uniform along +z
  /// Probability that a module crossing leaves no hit (the material still scatters).
  double hitInefficiency = 0.02;
  /// Noise hits per particle hit (rounded), uniform on random selected modules,
  /// particle id 0 and weight 0.
  double noiseFraction = 0.01;
  /// Multiple scattering (Highland) at every module crossing.
  bool multipleScattering = true;
  /// Write each hit's cluster as a cells table (TrackML cells.csv; sim/Clusters.hpp): the
  /// cells the particle's straight path through the sensor thickness crosses. Off by
  /// default: it adds ~2-4 cells per hit to the file. Noise hits get one cell.
  bool cells = false;
  /// Extra material per module crossing at normal incidence (support, cooling,
  /// cables), in radiation lengths, added to the silicon (X0 = 93.7 mm).
  double supportMaterial = 0.01;

  // ---- material interactions: all off by default --------------------------------------
  // The default events are the ones the shipped models were trained on (and the golden
  // tests were made from): these switches add what full simulation has beyond them
  // (docs/generator.md, with sources). Module material for them: the sensor's silicon
  // plus `supportMaterial` taken as silicon of the same radiation length, along the path
  // at the crossing angle. The new effects draw from their own random streams, so the
  // same particles are generated with them on or off.
  /// Ionisation energy loss at every crossing (Bethe-Bloch mean, Landau-like
  /// fluctuations from the delta-ray spectrum; sim/EnergyLoss.hpp). The momentum drops
  /// along the trajectory; a particle below beta gamma 0.1 stops.
  bool energyLoss = false;
  /// Delta electrons made in the sensor that leave it with more than
  /// `deltaElectronMinEnergy` kinetic energy are tracked as particles of their own
  /// (pdg 11, sim/ParticleId.hpp gives their primary) and leave hits. Needs `energyLoss`.
  bool deltaElectrons = false;
  double deltaElectronMinEnergy = 1e-4;  ///< GeV (100 keV: a 1 mm circle in 2 T)
  /// Inelastic hadronic interactions of pions, kaons and protons (lambda_I of silicon;
  /// sim/HadronicInteraction.hpp): the hadron ends at the module, primaries' interactions
  /// leave charged secondaries that are tracked (one generation).
  bool hadronicInteractions = false;
  /// Decays in flight of charged pions and kaons (PDG lifetimes; sim/Decay.hpp): the
  /// parent ends at its decay point, the charged daughter (a muon, or for K -> pi pi0 a
  /// pion) carries on as a secondary. Primaries only (one generation).
  bool decays = false;
  /// Bremsstrahlung of electrons and positrons at every crossing (Bethe-Heitler energy
  /// fraction for the module's radiation lengths; sim/Bremsstrahlung.hpp). The photon is
  /// not tracked.
  bool bremsstrahlung = false;
  /// Species of the primaries from measured LHC yield ratios instead of the basic mix:
  /// pions, kaons and protons in ALICE's pT-integrated ratios at 13 TeV (K/pi 0.1299,
  /// p/pi 0.0576), 2% electrons (not sourced), no primary muons (decays make them).
  /// Changes species (and masses) only: momenta, charges and vertices stay the same.
  bool measuredSpecies = false;

  // ---- propagation ---------------------------------------------------------------
  double stepLength = 10.0;  ///< mm, helix step between module look-ups
  /// Loopers stop after this many full turns or this path length, whichever comes first.
  double maxTurns = 3.0;
  double maxPathLength = 12000.0;  ///< mm
  double envelopeR = 1100.0;       ///< mm, particles stop beyond this radius
  double envelopeZ = 3100.0;       ///< mm, and beyond this |z| (moving outwards)
};

/// Generates events on a detector. Thread safe: generate() keeps all its state locally,
/// so events may be generated in any order or in parallel with identical results.
///
/// Each particle follows a helix in steps of `stepLength`; at every step the module grid
/// gives the modules near the step, and a crossing is the helix meeting a module plane
/// inside its trapezoid. At each crossing the direction is deflected (Highland) and the
/// helix restarts. Optional (GeneratorConfig, off by default): energy loss, delta
/// electrons, hadronic interactions with secondaries, decays in flight, bremsstrahlung.
/// Not simulated: photons and their conversions, charge sharing and fluctuations in
/// clusters (with `cells`, a hit's cells follow its crossing angle only).
class EventGenerator {
 public:
  /// Validates `config` against the detector; throws trkaas::Error with a precise message.
  EventGenerator(std::shared_ptr<const Detector> detector, GeneratorConfig config);
  ~EventGenerator();
  EventGenerator(EventGenerator&&) noexcept;
  EventGenerator& operator=(EventGenerator&&) noexcept;

  /// The event with this id: deterministic in (config.seed, eventId). Hits are sorted by
  /// (volume, layer, module) with ids 1..N. Truth is aligned with the hits; particle ids
  /// are (vertex number << 24) | (number within the vertex), both from 1; noise has id 0;
  /// secondaries (optional physics) are listed after the primaries, with the ids of
  /// sim/ParticleId.hpp that name their primary and process.
  /// Hit weights (TrackML-like): 0 for noise and for particles with < 3 hits, otherwise
  /// pT weight (0.2 below 0.5 GeV rising to 1 at 3 GeV) times 2 for the first and last
  /// three hits along the trajectory, 1 in between; normalised to sum 1 over the event.
  /// Every generated particle is listed, with nHits = the hits it left (0 allowed).
  Event generate(std::int64_t eventId) const;

  const GeneratorConfig& config() const { return m_config; }
  const Detector& detector() const { return *m_detector; }
  /// The module lookup used for propagation (selected volumes only).
  const ModuleGrid& grid() const { return *m_grid; }

 private:
  struct Particle;
  struct SimHit;
  struct Surface;
  struct Scratch;

  Event generateFromSeed(std::int64_t eventId, std::uint64_t eventSeed) const;
  /// Follows one particle and appends its hits; secondaries it makes go to
  /// `scratch.secondaries` when `makeSecondaries`.
  void propagate(const Particle& particle, std::uint64_t streamSeed, std::vector<SimHit>& hits,
                 Scratch& scratch, bool makeSecondaries) const;
  /// Material effects of one crossing after the hit: energy loss, delta electrons,
  /// bremsstrahlung, hadronic interaction. Updates `p`; returns false when the particle ends here.
  bool interact(const Particle& particle, const Surface& surface, const Vector3& position,
                const Vector3& dir, double& p, Random& rng, Random& bremRng, Scratch& scratch,
                bool makeSecondaries) const;
  /// Appends a secondary of `parent` made by `process` at `position` to `scratch`.
  static void addSecondary(const Particle& parent, ParticleId::Process process, std::int32_t pdg,
                           double mass, int charge, const Vector3& position,
                           const Vector3& momentum, Scratch& scratch);

  std::shared_ptr<const Detector> m_detector;
  GeneratorConfig m_config;
  PtSpectrum m_spectrum;
  EnergyLoss m_energyLoss;
  HadronicInteraction m_hadronic;
  std::vector<std::uint32_t> m_selected;  ///< indices of modules in the selected volumes
  std::vector<Surface> m_surfaces;        ///< per module index: cached geometry
  std::unique_ptr<ModuleGrid> m_grid;
  double m_rStop = 0;
  double m_zStopLow = 0;
  double m_zStopHigh = 0;
};

}  // namespace trkaas
