#pragma once
/// Node features for the models: one row of F floats per hit, each a named quantity
/// divided by its scale, in the order of the config (the order the models were trained
/// with, as written in models/pipeline.yaml).

#include <cstdint>
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
    /// (number of cells of the hit and the sum of their values; need the cells table).
    std::vector<Feature> features = {{"r", 1000.0f}, {"phi", 3.14159265f}, {"z", 1000.0f}};
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

 private:
  Config m_config;
  std::vector<int> m_kinds;  ///< index into knownFeatures(), per configured feature
  bool m_needsCells = false;
};

}  // namespace trkaas
