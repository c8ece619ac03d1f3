#include "trkaas/sim/ModuleGrid.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "trkaas/core/Error.hpp"

namespace trkaas {

namespace {

constexpr double kTwoPi = 2.0 * M_PI;
/// Sampling points per module edge used to find its cylindrical extent.
constexpr int kSamples = 9;
/// Extra growth, mm, that covers the error of sampling the module surface.
constexpr double kSampleSlack = 0.5;

/// Cylindrical bounding box of one module, grown by the margin.
struct CylBox {
  double zLo, zHi, rLo, rHi, phiLo, phiHi;  ///< phiLo/phiHi unwrapped, may exceed [-pi, pi]
  bool fullPhi;
};

CylBox boundingBox(const Module& m, double margin) {
  const double phiC = std::atan2(m.centre[1], m.centre[0]);
  CylBox box{std::numeric_limits<double>::max(),
             std::numeric_limits<double>::lowest(),
             std::numeric_limits<double>::max(),
             0.0,
             std::numeric_limits<double>::max(),
             std::numeric_limits<double>::lowest(),
             false};
  for (int iw = 0; iw < 2; ++iw) {
    const double w = (iw == 0 ? -0.5 : 0.5) * m.thickness;
    for (int iv = 0; iv < kSamples; ++iv) {
      const double v = -m.hv + 2.0 * m.hv * iv / (kSamples - 1);
      const double hu = m.halfWidthAt(v);
      for (int iu = 0; iu < kSamples; ++iu) {
        const double u = -hu + 2.0 * hu * iu / (kSamples - 1);
        const Vector3 p = m.toGlobal({u, v, w});
        const double r = p.perp();
        double dphi = std::atan2(p.y, p.x) - phiC;
        if (dphi > M_PI) dphi -= kTwoPi;
        if (dphi < -M_PI) dphi += kTwoPi;
        box.zLo = std::min(box.zLo, p.z);
        box.zHi = std::max(box.zHi, p.z);
        box.rLo = std::min(box.rLo, r);
        box.rHi = std::max(box.rHi, r);
        box.phiLo = std::min(box.phiLo, dphi);
        box.phiHi = std::max(box.phiHi, dphi);
      }
    }
  }
  const double grow = margin + kSampleSlack;
  box.zLo -= grow;
  box.zHi += grow;
  box.rHi += grow;
  const double rIn = box.rLo - grow;
  if (rIn <= 0.0 || box.phiHi - box.phiLo > M_PI) {
    box.fullPhi = true;
  } else {
    const double dphi = std::asin(std::min(1.0, grow / rIn));
    box.phiLo += phiC - dphi;
    box.phiHi += phiC + dphi;
    box.fullPhi = box.phiHi - box.phiLo >= kTwoPi;
  }
  box.rLo = std::max(0.0, rIn);
  return box;
}

}  // namespace

ModuleGrid::ModuleGrid(const std::vector<Module>& modules,
                       const std::vector<std::uint32_t>& selected, Config config)
    : m_config(config) {
  if (!(config.zBin > 0.0) || !(config.rBin > 0.0)) {
    throw Error("ModuleGrid::Config: zBin and rBin must be > 0 mm (got " +
                std::to_string(config.zBin) + ", " + std::to_string(config.rBin) + ")");
  }
  if (config.phiBins < 1 || config.phiBins > 65536) {
    throw Error("ModuleGrid::Config: phiBins must be in [1, 65536] (got " +
                std::to_string(config.phiBins) + ")");
  }
  if (!(config.margin >= 0.0) || !std::isfinite(config.margin)) {
    throw Error("ModuleGrid::Config: margin must be >= 0 mm (got " + std::to_string(config.margin) +
                ")");
  }
  std::vector<std::uint32_t> indices = selected;
  if (indices.empty()) {
    indices.resize(modules.size());
    for (std::size_t i = 0; i < modules.size(); ++i) indices[i] = static_cast<std::uint32_t>(i);
  }
  if (indices.empty()) throw Error("ModuleGrid: no modules");

  std::vector<CylBox> boxes;
  boxes.reserve(indices.size());
  double zLo = std::numeric_limits<double>::max();
  double zHi = std::numeric_limits<double>::lowest();
  double rHi = 0.0;
  for (std::uint32_t i : indices) {
    if (i >= modules.size()) throw Error("ModuleGrid: module index out of range");
    boxes.push_back(boundingBox(modules[i], config.margin));
    const CylBox& b = boxes.back();
    zLo = std::min(zLo, b.zLo);
    zHi = std::max(zHi, b.zHi);
    rHi = std::max(rHi, b.rHi);
  }
  const double grow = config.margin + kSampleSlack;
  m_rMax = rHi - grow;
  m_zMin = zLo + grow;
  m_zMax = zHi - grow;

  m_gridZ0 = zLo;
  m_nz = std::max(1, static_cast<std::int32_t>(std::ceil((zHi - zLo) / config.zBin)));
  m_nr = std::max(1, static_cast<std::int32_t>(std::ceil(rHi / config.rBin)));
  m_gridR1 = m_nr * config.rBin;
  const std::int32_t nphi = config.phiBins;
  const double phiWidth = kTwoPi / nphi;
  const std::size_t nCells = static_cast<std::size_t>(m_nz) * m_nr * nphi;

  // Two passes over the cells of every box: count, then fill (CSR).
  const auto forEachCell = [&](const CylBox& b, auto&& visit) {
    const std::int32_t z0 =
        std::max(0, static_cast<std::int32_t>((b.zLo - m_gridZ0) / config.zBin));
    const std::int32_t z1 =
        std::min(m_nz - 1, static_cast<std::int32_t>((b.zHi - m_gridZ0) / config.zBin));
    const std::int32_t r0 = std::max(0, static_cast<std::int32_t>(b.rLo / config.rBin));
    const std::int32_t r1 = std::min(m_nr - 1, static_cast<std::int32_t>(b.rHi / config.rBin));
    std::int32_t p0 = 0;
    std::int32_t p1 = nphi - 1;
    if (!b.fullPhi) {
      p0 = static_cast<std::int32_t>(std::floor((b.phiLo + M_PI) / phiWidth));
      p1 = static_cast<std::int32_t>(std::floor((b.phiHi + M_PI) / phiWidth));
      if (p1 - p0 >= nphi) {
        p0 = 0;
        p1 = nphi - 1;
      }
    }
    for (std::int32_t iz = z0; iz <= z1; ++iz) {
      for (std::int32_t ir = r0; ir <= r1; ++ir) {
        const std::size_t base = (static_cast<std::size_t>(iz) * m_nr + ir) * nphi;
        for (std::int32_t ip = p0; ip <= p1; ++ip) {
          const std::int32_t wrapped = ((ip % nphi) + nphi) % nphi;
          visit(base + static_cast<std::size_t>(wrapped));
        }
      }
    }
  };

  m_offsets.assign(nCells + 1, 0);
  for (const CylBox& b : boxes) forEachCell(b, [&](std::size_t c) { ++m_offsets[c + 1]; });
  for (std::size_t c = 0; c < nCells; ++c) m_offsets[c + 1] += m_offsets[c];
  if (m_offsets.back() > std::numeric_limits<std::uint32_t>::max() / 2) {
    throw Error("ModuleGrid: too many cell entries; use coarser cells");
  }
  m_entries.resize(m_offsets.back());
  std::vector<std::uint32_t> fill(m_offsets.begin(), m_offsets.end() - 1);
  for (std::size_t k = 0; k < boxes.size(); ++k) {
    forEachCell(boxes[k], [&](std::size_t c) { m_entries[fill[c]++] = indices[k]; });
  }
}

std::int64_t ModuleGrid::cellIndex(double x, double y, double z) const {
  const double fz = (z - m_gridZ0) / m_config.zBin;
  if (!(fz >= 0.0) || fz >= m_nz) return -1;
  const double r = std::sqrt(x * x + y * y);
  if (r >= m_gridR1) return -1;
  const std::int32_t iz = static_cast<std::int32_t>(fz);
  const std::int32_t ir = static_cast<std::int32_t>(r / m_config.rBin);
  const std::int32_t nphi = m_config.phiBins;
  std::int32_t ip = static_cast<std::int32_t>((std::atan2(y, x) + M_PI) * (nphi / kTwoPi));
  if (ip >= nphi) ip = nphi - 1;
  if (ip < 0) ip = 0;
  return (static_cast<std::int64_t>(iz) * m_nr + ir) * nphi + ip;
}

ModuleGrid::Range ModuleGrid::candidates(double x, double y, double z) const {
  const std::int64_t c = cellIndex(x, y, z);
  if (c < 0) return {};
  const std::uint32_t* base = m_entries.data();
  return {base + m_offsets[c], base + m_offsets[c + 1]};
}

}  // namespace trkaas
