#include "trkaas/pipeline/FeatureBuilder.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <unordered_map>

#include "trkaas/core/Error.hpp"
#include "trkaas/sim/Detector.hpp"

namespace trkaas {

namespace {
enum Kind {
  kX,
  kY,
  kZ,
  kR,
  kPhi,
  kEta,
  kRho,
  kCellCount,
  kCellValue,
  kLEta,
  kLPhi,
  kLX,
  kLY,
  kLZ,
  kGEta,
  kGPhi
};

bool isShape(int kind) { return kind >= kLEta; }

/// Pseudorapidity and azimuth of a vector (eta of a vector along +-z: +-1e3).
std::pair<double, double> etaPhi(double x, double y, double z) {
  const double r = std::hypot(x, y);
  const double eta = r > 0.0 ? std::asinh(z / r) : (z >= 0.0 ? 1e3 : -1e3);
  return {eta, std::atan2(y, x)};
}
}  // namespace

struct FeatureBuilder::Geometry {
  Detector detector;
};

const std::vector<std::string>& FeatureBuilder::knownFeatures() {
  // Order matches Kind.
  static const std::vector<std::string> names = {
      "x",          "y",    "z",    "r",  "phi", "eta", "rho",  "cell_count",
      "cell_value", "leta", "lphi", "lx", "ly",  "lz",  "geta", "gphi"};
  return names;
}

bool FeatureBuilder::needsCells(const Config& config) {
  const auto& names = knownFeatures();
  for (const Feature& f : config.features) {
    const auto it = std::find(names.begin(), names.end(), f.name);
    const int kind = static_cast<int>(it - names.begin());
    if (kind == kCellCount || kind == kCellValue || isShape(kind)) return true;
  }
  return false;
}

FeatureBuilder::FeatureBuilder(Config config) : m_config(std::move(config)) {
  if (m_config.features.empty()) throw Error("FeatureBuilder: no features configured");
  const auto& names = knownFeatures();
  for (const Feature& f : m_config.features) {
    const auto it = std::find(names.begin(), names.end(), f.name);
    if (it == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      throw Error("FeatureBuilder: unknown feature '" + f.name + "' (known: " + known + ")");
    }
    if (!std::isfinite(f.scale) || f.scale == 0.0f) {
      throw Error("FeatureBuilder: feature '" + f.name + "' needs a finite, non-zero scale, got " +
                  std::to_string(f.scale));
    }
    const int kind = static_cast<int>(it - names.begin());
    m_kinds.push_back(kind);
    m_needsCells = m_needsCells || kind == kCellCount || kind == kCellValue || isShape(kind);
    if (isShape(kind) && !m_geometry) {
      // One module table per process and path, shared by every pipeline and worker.
      static std::mutex mutex;
      static std::map<std::string, std::weak_ptr<const Geometry>> cache;
      const std::string path =
          m_config.detector.empty() ? Detector::defaultPath() : m_config.detector;
      const std::lock_guard<std::mutex> lock(mutex);
      auto geometry = cache[path].lock();
      if (!geometry) {
        try {
          geometry = std::make_shared<const Geometry>(Geometry{Detector::load(path)});
        } catch (const std::exception& e) {
          throw Error("FeatureBuilder: feature '" + f.name +
                      "' needs the module geometry, which could not be read: " + e.what());
        }
        cache[path] = geometry;
      }
      m_geometry = geometry;
    }
  }
}

std::vector<float> FeatureBuilder::build(const Event& event, const std::string& source) const {
  const Hits& hits = event.hits;
  const std::size_t n = hits.size();
  const std::size_t f = m_kinds.size();
  std::vector<float> cellCount, cellValue;
  // Cluster extent per hit in channels: min and max of ch0 and ch1.
  constexpr std::int32_t kNone = std::numeric_limits<std::int32_t>::max();
  std::vector<std::array<std::int32_t, 4>> extent;
  if (m_geometry) extent.assign(n, {kNone, -kNone, kNone, -kNone});
  if (m_needsCells) {
    if (!event.hasCells()) {
      throw InputError(source, event.eventId,
                       "the models need cell features but the event has no cells");
    }
    std::unordered_map<std::int64_t, std::size_t> row;
    row.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) row.emplace(hits.hitId[i], i);
    cellCount.assign(n, 0.0f);
    cellValue.assign(n, 0.0f);
    for (std::size_t c = 0; c < event.cells.size(); ++c) {
      const auto it = row.find(event.cells.hitId[c]);
      if (it == row.end()) continue;  // validateEvent refuses such cells
      cellCount[it->second] += 1.0f;
      cellValue[it->second] += event.cells.value[c];
      if (m_geometry) {
        auto& e = extent[it->second];
        e[0] = std::min(e[0], event.cells.ch0[c]);
        e[1] = std::max(e[1], event.cells.ch0[c]);
        e[2] = std::min(e[2], event.cells.ch1[c]);
        e[3] = std::max(e[3], event.cells.ch1[c]);
      }
    }
  }
  std::vector<float> out(n * f);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = hits.x[i], y = hits.y[i], z = hits.z[i];
    const double r = std::hypot(x, y);
    // The cluster-shape vector in the module frame (l) and the global frame (g).
    double l[3] = {0, 0, 0}, g[3] = {0, 0, 0};
    if (m_geometry) {
      const Module* m =
          m_geometry->detector.find(hits.volumeId[i], hits.layerId[i], hits.moduleId[i]);
      if (m == nullptr) {
        throw InputError(source, event.eventId,
                         "hit " + std::to_string(hits.hitId[i]) + " is on module (volume " +
                             std::to_string(hits.volumeId[i]) + ", layer " +
                             std::to_string(hits.layerId[i]) + ", module " +
                             std::to_string(hits.moduleId[i]) + "), which is not in " +
                             m_geometry->detector.source());
      }
      const auto& e = extent[i];
      if (e[0] == kNone) {
        throw InputError(source, event.eventId,
                         "hit " + std::to_string(hits.hitId[i]) +
                             " has no cells; the cluster-shape features need them");
      }
      l[0] = double(e[1] - e[0] + 1) * m->pitchU;
      l[1] = double(e[3] - e[2] + 1) * m->pitchV;
      l[2] = 2.0 * m->thickness;
      for (int a = 0; a < 3; ++a) {
        g[a] = m->rot[3 * a] * l[0] + m->rot[3 * a + 1] * l[1] + m->rot[3 * a + 2] * l[2];
      }
    }
    for (std::size_t k = 0; k < f; ++k) {
      double v = 0.0;
      switch (m_kinds[k]) {
        case kX:
          v = x;
          break;
        case kY:
          v = y;
          break;
        case kZ:
          v = z;
          break;
        case kR:
          v = r;
          break;
        case kPhi:
          v = std::atan2(y, x);
          break;
        case kEta:
          // -ln tan(theta/2) with theta the polar angle; asinh(z/r) is the same, stably.
          v = r > 0.0 ? std::asinh(z / r) : (z >= 0.0 ? 1e3 : -1e3);
          break;
        case kRho:
          v = std::sqrt(r * r + z * z);
          break;
        case kCellCount:
          v = cellCount[i];
          break;
        case kCellValue:
          v = cellValue[i];
          break;
        case kLEta:
          v = etaPhi(l[0], l[1], l[2]).first;
          break;
        case kLPhi:
          v = etaPhi(l[0], l[1], l[2]).second;
          break;
        case kLX:
        case kLY:
        case kLZ:
          v = l[m_kinds[k] - kLX];
          break;
        case kGEta:
          v = etaPhi(g[0], g[1], g[2]).first;
          break;
        case kGPhi:
          v = etaPhi(g[0], g[1], g[2]).second;
          break;
        default:
          break;
      }
      out[i * f + k] = static_cast<float>(v / m_config.features[k].scale);
    }
  }
  return out;
}

}  // namespace trkaas
