#include "trkaas/pipeline/FeatureBuilder.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace {
enum Kind { kX, kY, kZ, kR, kPhi, kEta, kRho, kCellCount, kCellValue };
}  // namespace

const std::vector<std::string>& FeatureBuilder::knownFeatures() {
  // Order matches Kind.
  static const std::vector<std::string> names = {"x",   "y",   "z",          "r",         "phi",
                                                 "eta", "rho", "cell_count", "cell_value"};
  return names;
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
    m_needsCells = m_needsCells || kind == kCellCount || kind == kCellValue;
  }
}

std::vector<float> FeatureBuilder::build(const Event& event, const std::string& source) const {
  const Hits& hits = event.hits;
  const std::size_t n = hits.size();
  const std::size_t f = m_kinds.size();
  std::vector<float> cellCount, cellValue;
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
    }
  }
  std::vector<float> out(n * f);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = hits.x[i], y = hits.y[i], z = hits.z[i];
    const double r = std::hypot(x, y);
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
        default:
          break;
      }
      out[i * f + k] = static_cast<float>(v / m_config.features[k].scale);
    }
  }
  return out;
}

}  // namespace trkaas
