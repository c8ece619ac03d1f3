#include "trkaas/sim/Detector.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "trkaas/core/Error.hpp"
#include "trkaas/core/TextFile.hpp"

namespace trkaas {

namespace {

constexpr std::array<const char*, 21> kColumns = {
    "volume_id", "layer_id", "module_id",    "cx",           "cy",        "cz",      "rot_xu",
    "rot_xv",    "rot_xw",   "rot_yu",       "rot_yv",       "rot_yw",    "rot_zu",  "rot_zv",
    "rot_zw",    "module_t", "module_minhu", "module_maxhu", "module_hv", "pitch_u", "pitch_v"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

template <typename T>
bool parseNumber(std::string_view text, T& value) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const char* end = text.data() + text.size();
  auto result = std::from_chars(text.data(), end, value);
  return result.ec == std::errc() && result.ptr == end && !text.empty();
}

}  // namespace

Vector3 Module::toLocal(const Vector3& global) const {
  const Vector3 d = global - centreVector();
  return {axisU().dot(d), axisV().dot(d), normal().dot(d)};
}

Vector3 Module::toGlobal(const Vector3& local) const {
  return centreVector() + axisU() * local.x + axisV() * local.y + normal() * local.z;
}

bool Module::contains(double u, double v, double tolerance) const {
  if (std::abs(v) > hv + tolerance) return false;
  const double vIn = std::clamp(v, -hv, hv);
  return std::abs(u) <= halfWidthAt(vIn) + tolerance;
}

std::uint64_t Detector::key(std::int32_t volume, std::int32_t layer, std::int32_t module) {
  // Offsets keep negative ids ordered; TrackML ids are small and non-negative.
  const auto enc = [](std::int32_t v) {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(v) + (1LL << 20)) & 0x1FFFFFULL;
  };
  return (enc(volume) << 42) | (enc(layer) << 21) | enc(module);
}

Detector::Detector(std::vector<Module> modules, std::string source)
    : m_modules(std::move(modules)), m_source(std::move(source)) {
  std::stable_sort(m_modules.begin(), m_modules.end(), [](const Module& a, const Module& b) {
    return key(a.volumeId, a.layerId, a.moduleId) < key(b.volumeId, b.layerId, b.moduleId);
  });
  m_keys.reserve(m_modules.size());
  for (const Module& m : m_modules) {
    const std::uint64_t k = key(m.volumeId, m.layerId, m.moduleId);
    if (!m_keys.empty() && m_keys.back() == k) {
      throw Error(m_source + ": duplicate module (volume " + std::to_string(m.volumeId) +
                  ", layer " + std::to_string(m.layerId) + ", module " +
                  std::to_string(m.moduleId) + ")");
    }
    m_keys.push_back(k);
    if (m_volumes.empty() || m_volumes.back() != m.volumeId) m_volumes.push_back(m.volumeId);
  }
  std::sort(m_volumes.begin(), m_volumes.end());
  m_volumes.erase(std::unique(m_volumes.begin(), m_volumes.end()), m_volumes.end());
}

std::int64_t Detector::indexOf(std::int32_t volume, std::int32_t layer, std::int32_t module) const {
  const std::uint64_t k = key(volume, layer, module);
  const auto it = std::lower_bound(m_keys.begin(), m_keys.end(), k);
  if (it == m_keys.end() || *it != k) return -1;
  return it - m_keys.begin();
}

const Module* Detector::find(std::int32_t volume, std::int32_t layer, std::int32_t module) const {
  const std::int64_t i = indexOf(volume, layer, module);
  return i < 0 ? nullptr : &m_modules[static_cast<std::size_t>(i)];
}

bool Detector::hasVolume(std::int32_t volume) const {
  return std::binary_search(m_volumes.begin(), m_volumes.end(), volume);
}

std::string Detector::defaultPath() {
  if (const char* env = std::getenv("TRKAAS_DETECTOR"); env != nullptr && env[0] != '\0') {
    return env;
  }
  return std::string(TRKAAS_DATA_DIR) + "/trackml/detectors.csv.gz";
}

Detector Detector::load(const std::string& path, const std::vector<std::int32_t>& volumes) {
  LineReader reader(path);
  std::string line;
  std::vector<std::string_view> fields;
  const auto fail = [&](const std::string& reason) {
    throw InputError(path, InputError::kNoEvent,
                     "line " + std::to_string(reader.lineNumber()) + ": " + reason);
  };

  if (!reader.next(line)) {
    throw InputError(path, InputError::kNoEvent, "empty file (expected a detectors.csv header)");
  }
  splitCsv(line, fields);
  std::array<std::size_t, kColumns.size()> index{};
  for (std::size_t c = 0; c < kColumns.size(); ++c) {
    const auto it = std::find_if(fields.begin(), fields.end(),
                                 [&](std::string_view f) { return trim(f) == kColumns[c]; });
    if (it == fields.end()) fail(std::string("header lacks column '") + kColumns[c] + "'");
    index[c] = static_cast<std::size_t>(it - fields.begin());
  }
  const std::size_t nFields = fields.size();

  std::vector<Module> modules;
  modules.reserve(20000);
  std::array<double, kColumns.size()> value{};
  std::array<std::int32_t, 3> ids{};
  while (reader.next(line)) {
    if (trim(line).empty()) continue;
    splitCsv(line, fields);
    if (fields.size() != nFields) {
      fail("expected " + std::to_string(nFields) + " fields, found " +
           std::to_string(fields.size()));
    }
    for (std::size_t c = 0; c < 3; ++c) {
      if (!parseNumber(fields[index[c]], ids[c])) {
        fail(std::string("column '") + kColumns[c] + "': not an integer: '" +
             std::string(fields[index[c]]) + "'");
      }
    }
    for (std::size_t c = 3; c < kColumns.size(); ++c) {
      if (!parseNumber(fields[index[c]], value[c]) || !std::isfinite(value[c])) {
        fail(std::string("column '") + kColumns[c] + "': not a finite number: '" +
             std::string(fields[index[c]]) + "'");
      }
    }
    if (!volumes.empty() && std::find(volumes.begin(), volumes.end(), ids[0]) == volumes.end()) {
      continue;
    }
    Module m;
    m.volumeId = ids[0];
    m.layerId = ids[1];
    m.moduleId = ids[2];
    for (int i = 0; i < 3; ++i) m.centre[i] = value[3 + i];
    for (int i = 0; i < 9; ++i) m.rot[i] = value[6 + i];
    m.thickness = value[15];
    m.minHu = value[16];
    m.maxHu = value[17];
    m.hv = value[18];
    m.pitchU = value[19];
    m.pitchV = value[20];
    for (std::size_t c = 15; c < kColumns.size(); ++c) {
      if (!(value[c] > 0.0)) fail(std::string("column '") + kColumns[c] + "' must be > 0");
    }
    // The rotation must be orthonormal: columns u, v, w of unit length and orthogonal.
    const Vector3 axes[3] = {m.axisU(), m.axisV(), m.normal()};
    for (int a = 0; a < 3; ++a) {
      for (int b = a; b < 3; ++b) {
        const double expected = a == b ? 1.0 : 0.0;
        if (std::abs(axes[a].dot(axes[b]) - expected) > 1e-3) {
          fail("rotation matrix is not orthonormal");
        }
      }
    }
    modules.push_back(m);
  }
  if (modules.empty()) {
    throw InputError(path, InputError::kNoEvent,
                     volumes.empty() ? "no modules" : "no modules in the requested volumes");
  }
  Detector detector(std::move(modules), path);
  for (std::int32_t v : volumes) {
    if (!detector.hasVolume(v)) {
      std::string have;
      for (std::int32_t h : detector.volumes())
        have += (have.empty() ? "" : ", ") + std::to_string(h);
      throw Error(path + ": volume " + std::to_string(v) +
                  " is not in the detector (requested volumes found: " + have + ")");
    }
  }
  return detector;
}

}  // namespace trkaas
