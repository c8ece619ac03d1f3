#pragma once
/// The TrackML detector description: 18,728 planar silicon modules (pixel volumes 7, 8, 9;
/// short strips 12, 13, 14; long strips 16, 17, 18) read from `detectors.csv(.gz)`.

#include <cstdint>
#include <string>
#include <vector>

#include "trkaas/sim/Vector3.hpp"

namespace trkaas {

/// One planar module. Global = centre + rot * (u, v, w); `w` is the module normal.
/// The sensitive area is a trapezoid: |v| <= hv and |u| <= halfWidthAt(v), which goes
/// linearly from minHu at v = -hv to maxHu at v = +hv. Lengths in mm.
struct Module {
  std::int32_t volumeId = 0;
  std::int32_t layerId = 0;
  std::int32_t moduleId = 0;
  double centre[3] = {0, 0, 0};
  double rot[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};  ///< row-major, global <- local
  double thickness = 0;
  double minHu = 0;
  double maxHu = 0;
  double hv = 0;
  double pitchU = 0;
  double pitchV = 0;

  /// Module centre in the global frame.
  Vector3 centreVector() const { return {centre[0], centre[1], centre[2]}; }
  /// Local u axis in the global frame.
  Vector3 axisU() const { return {rot[0], rot[3], rot[6]}; }
  /// Local v axis in the global frame.
  Vector3 axisV() const { return {rot[1], rot[4], rot[7]}; }
  /// Local w axis (the module normal) in the global frame.
  Vector3 normal() const { return {rot[2], rot[5], rot[8]}; }
  /// Global point -> local (u, v, w).
  Vector3 toLocal(const Vector3& global) const;
  /// Local (u, v, w) -> global point.
  Vector3 toGlobal(const Vector3& local) const;
  /// Half width in u of the trapezoid at local v.
  double halfWidthAt(double v) const { return minHu + (maxHu - minHu) * (v + hv) / (2.0 * hv); }
  /// True if local (u, v) lies inside the trapezoid grown by `tolerance` (mm).
  bool contains(double u, double v, double tolerance = 0.0) const;
};

/// The set of modules, sorted by (volume, layer, module), with a lookup by identifier.
class Detector {
 public:
  /// Loads a TrackML detectors.csv(.gz); `volumes` empty = all. Throws InputError naming
  /// file and line on bad input, and Error if a requested volume is not in the file.
  static Detector load(const std::string& path, const std::vector<std::int32_t>& volumes = {});

  /// data/trackml/detectors.csv.gz in the source tree (TRKAAS_DATA_DIR), or
  /// $TRKAAS_DETECTOR if set.
  static std::string defaultPath();

  /// Builds a detector from modules (sorted here; duplicate identifiers throw Error).
  explicit Detector(std::vector<Module> modules, std::string source = "<memory>");

  /// All modules, sorted by (volume, layer, module).
  const std::vector<Module>& modules() const { return m_modules; }
  std::size_t size() const { return m_modules.size(); }
  /// The module with these identifiers, nullptr if absent.
  const Module* find(std::int32_t volume, std::int32_t layer, std::int32_t module) const;
  /// Index of the module in modules(), -1 if absent.
  std::int64_t indexOf(std::int32_t volume, std::int32_t layer, std::int32_t module) const;
  /// The distinct volume ids, ascending.
  const std::vector<std::int32_t>& volumes() const { return m_volumes; }
  /// True if at least one module belongs to `volume`.
  bool hasVolume(std::int32_t volume) const;
  /// Where the modules came from (file path), for messages.
  const std::string& source() const { return m_source; }

 private:
  static std::uint64_t key(std::int32_t volume, std::int32_t layer, std::int32_t module);

  std::vector<Module> m_modules;
  std::vector<std::uint64_t> m_keys;  ///< sorted, aligned with m_modules
  std::vector<std::int32_t> m_volumes;
  std::string m_source;
};

}  // namespace trkaas
