#pragma once
/// Fast lookup of the modules near a point: a cylindrical (z, r, phi) cell grid.

#include <cstdint>
#include <vector>

#include "trkaas/sim/Detector.hpp"

namespace trkaas {

/// Maps every cell of a (z, r, phi) grid to the modules whose bounding box, grown by
/// `margin`, overlaps the cell (stored CSR). Any module point within distance `margin`
/// of a query point is then guaranteed to be among the query's candidates; the
/// propagation queries the middle of each step, so `margin` must be at least half the
/// step length plus the helix sagitta over a step.
class ModuleGrid {
 public:
  struct Config {
    double zBin = 40.0;         ///< mm, cell size in z
    double rBin = 20.0;         ///< mm, cell size in r
    std::int32_t phiBins = 64;  ///< cells in azimuth (uniform)
    double margin = 6.0;        ///< mm, by which module bounding boxes are grown
  };

  /// Candidates of a query: indices into the module vector given to the constructor.
  struct Range {
    const std::uint32_t* first = nullptr;
    const std::uint32_t* last = nullptr;
    const std::uint32_t* begin() const { return first; }
    const std::uint32_t* end() const { return last; }
    std::size_t size() const { return static_cast<std::size_t>(last - first); }
  };

  /// Grid over `modules[i]` for each i in `selected` (all modules if empty).
  /// Throws Error if the config is invalid.
  ModuleGrid(const std::vector<Module>& modules, const std::vector<std::uint32_t>& selected,
             Config config);
  ModuleGrid(const std::vector<Module>& modules, const std::vector<std::uint32_t>& selected)
      : ModuleGrid(modules, selected, Config()) {}

  /// Modules that may lie within `margin` of (x, y, z).
  Range candidates(double x, double y, double z) const;

  /// Largest radius of any point of the selected modules, mm.
  double rMax() const { return m_rMax; }
  /// Smallest / largest z of any point of the selected modules, mm.
  double zMin() const { return m_zMin; }
  double zMax() const { return m_zMax; }
  /// Number of (cell, module) entries, a measure of the grid's memory and selectivity.
  std::size_t entries() const { return m_entries.size(); }
  std::size_t cells() const { return m_offsets.size() - 1; }
  const Config& config() const { return m_config; }

 private:
  std::int64_t cellIndex(double x, double y, double z) const;

  Config m_config;
  double m_gridZ0 = 0;  ///< lower z edge of the grid
  double m_gridR1 = 0;  ///< upper r edge of the grid
  std::int32_t m_nz = 0;
  std::int32_t m_nr = 0;
  double m_rMax = 0;
  double m_zMin = 0;
  double m_zMax = 0;
  std::vector<std::uint32_t> m_offsets;  ///< CSR, cells + 1
  std::vector<std::uint32_t> m_entries;
};

}  // namespace trkaas
