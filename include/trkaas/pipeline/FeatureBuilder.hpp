#pragma once
/// Node features for the models: one row of F floats per hit, each a named quantity
/// divided by its scale, in the order of the config (the order the models were trained
/// with, as written in models/pipeline.yaml).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trkaas/core/Event.hpp"

namespace trkaas {

class FeatureBuilder {
 public:
  /// One feature: its name and the scale it is divided by.
  struct Feature {
    std::string name;
    float scale = 1.0f;
  };
  struct Config {
    /// Known names: x, y, z, r (transverse radius), phi (azimuth, rad), eta
    /// (pseudorapidity), rho (distance from the origin), cell_count and cell_value
    /// (number of cells of the hit and the sum of their values; need the cells table),
    /// and the Exa.TrkX cluster-shape features, which need the cells and the module
    /// geometry (`detector`):
    ///   lx, ly, lz   the cluster's extent in the module frame: (max - min + 1) channels
    ///                times the pitch along u and v, and twice module_t (the sensor's
    ///                full thickness) along w, in mm;
    ///   leta, lphi   pseudorapidity and azimuth of the vector (lx, ly, lz);
    ///   geta, gphi   the same for that vector rotated to the global frame.
    /// The Exa.TrkX TrackML convention of 12 features is r, phi, z, cell_count,
    /// cell_value, leta, lphi, lx, ly, lz, geta, gphi.
    std::vector<Feature> features = {{"r", 1000.0f}, {"phi", 3.14159265f}, {"z", 1000.0f}};
    /// TrackML detectors.csv(.gz) for the cluster-shape features; empty: the one in the
    /// source tree (or $TRKAAS_DETECTOR). Read once per process and path.
    std::string detector;
  };

  /// Validates the config: at least one feature, known names, finite non-zero scales.
  explicit FeatureBuilder(Config config);

  /// N*F floats, row-major. Throws trkaas::InputError naming `source` and the event if a
  /// cell feature is asked for and the event has no cells.
  std::vector<float> build(const Event& event, const std::string& source = "event") const;

  std::int64_t numFeatures() const { return static_cast<std::int64_t>(m_kinds.size()); }
  const Config& config() const { return m_config; }

  /// The names build() knows.
  static const std::vector<std::string>& knownFeatures();
  /// Whether the features read the events' cells (cell_count, cell_value, cluster shapes).
  static bool needsCells(const Config& config);

 private:
  struct Geometry;

  Config m_config;
  std::vector<int> m_kinds;  ///< index into knownFeatures(), per configured feature
  bool m_needsCells = false;
  /// The module table of the cluster-shape features (null when none is configured).
  std::shared_ptr<const Geometry> m_geometry;
};

}  // namespace trkaas
