#pragma once
/// Simulated TrackML-like collision events: pile-up vertices from a beam spot, charged
/// particles on helices in a solenoid, hits on the real TrackML modules, with truth.

#include <cstdint>
#include <memory>
#include <vector>

#include "trkaas/core/Event.hpp"
#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/ModuleGrid.hpp"
#include "trkaas/sim/PtSpectrum.hpp"

namespace trkaas {

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
  /// Species: 78% pions, 12% kaons, 7% protons, 2% electrons, 1% muons; charge +-1.
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
/// helix restarts. Not simulated: energy loss, bremsstrahlung, hadronic interactions,
/// decays and secondaries, charge sharing and fluctuations in clusters (with `cells`, a
/// hit's cells follow its crossing angle only).
class EventGenerator {
 public:
  /// Validates `config` against the detector; throws trkaas::Error with a precise message.
  EventGenerator(std::shared_ptr<const Detector> detector, GeneratorConfig config);
  ~EventGenerator();
  EventGenerator(EventGenerator&&) noexcept;
  EventGenerator& operator=(EventGenerator&&) noexcept;

  /// The event with this id: deterministic in (config.seed, eventId). Hits are sorted by
  /// (volume, layer, module) with ids 1..N. Truth is aligned with the hits; particle ids
  /// are (vertex number << 24) | (number within the vertex), both from 1; noise has id 0.
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

  Event generateFromSeed(std::int64_t eventId, std::uint64_t eventSeed) const;
  void propagate(const Particle& particle, std::uint64_t streamSeed,
                 std::vector<SimHit>& hits) const;

  std::shared_ptr<const Detector> m_detector;
  GeneratorConfig m_config;
  PtSpectrum m_spectrum;
  std::vector<std::uint32_t> m_selected;  ///< indices of modules in the selected volumes
  std::vector<Surface> m_surfaces;        ///< per module index: cached geometry
  std::unique_ptr<ModuleGrid> m_grid;
  double m_rStop = 0;
  double m_zStopLow = 0;
  double m_zStopHigh = 0;
};

}  // namespace trkaas
