// Helix stitching: tracks and pieces that continue one helix from the origin become one
// track (TrackBuilder::stitch; tools/train graph.stitch_tracks follows the same rules).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/TrackBuilder.hpp"

namespace trkaas {

namespace {

struct HelixFit {
  double resXy = 0.0;           ///< largest distance of a hit from the circle (mm)
  double resZ = 0.0;            ///< largest |z - z0 - t s| (mm)
  std::array<double, 3> key{};  ///< direction at the origin (unit), kStitchCotWeight * t
};

/// The helix from the origin through `hits` (two lists, one after the other); none when the
/// hits fix no circle (all on one line through the origin) or no line in s-z.
std::optional<HelixFit> helixFit(const std::vector<std::int64_t>& first,
                                 const std::vector<std::int64_t>& second, const float* xyz) {
  double sxx = 0.0, sxy = 0.0, syy = 0.0, sxq = 0.0, syq = 0.0;
  const auto each = [&](auto&& f) {
    for (const std::int64_t h : first) f(h);
    for (const std::int64_t h : second) f(h);
  };
  std::int64_t far = -1;
  double farQ = -1.0;
  each([&](std::int64_t h) {
    const double x = xyz[3 * h], y = xyz[3 * h + 1];
    const double q = x * x + y * y;
    sxx += x * x;
    sxy += x * y;
    syy += y * y;
    sxq += x * q;
    syq += y * q;
    if (q > farQ) {
      farQ = q;
      far = h;
    }
  });
  const double det = sxx * syy - sxy * sxy;
  if (!(det > 0.0)) return std::nullopt;
  const double a = (sxq * syy - syq * sxy) / (2.0 * det);
  const double b = (syq * sxx - sxq * sxy) / (2.0 * det);
  const double rad = std::hypot(a, b);
  if (!(std::isfinite(rad) && rad > 0.0)) return std::nullopt;
  HelixFit fit;
  double n = 0.0, ss = 0.0, sss = 0.0, sz = 0.0, ssz = 0.0;
  const auto arc = [&](std::int64_t h) {
    const double x = xyz[3 * h], y = xyz[3 * h + 1];
    return 2.0 * rad * std::asin(std::min(std::sqrt(x * x + y * y) / (2.0 * rad), 1.0));
  };
  each([&](std::int64_t h) {
    const double x = xyz[3 * h], y = xyz[3 * h + 1], z = xyz[3 * h + 2];
    fit.resXy = std::max(fit.resXy, std::abs(std::hypot(x - a, y - b) - rad));
    const double s = arc(h);
    n += 1.0;
    ss += s;
    sss += s * s;
    sz += z;
    ssz += s * z;
  });
  const double den = n * sss - ss * ss;
  if (!(den > 0.0)) return std::nullopt;
  const double t = (n * ssz - ss * sz) / den;
  const double z0 = (sz - t * ss) / n;
  each([&](std::int64_t h) {
    fit.resZ = std::max(fit.resZ, std::abs(xyz[3 * h + 2] - z0 - t * arc(h)));
  });
  double tx = -b / rad, ty = a / rad;  // the direction at the origin, towards the hits
  if (tx * xyz[3 * far] + ty * xyz[3 * far + 1] < 0.0) {
    tx = -tx;
    ty = -ty;
  }
  fit.key = {tx, ty, TrackBuilder::kStitchCotWeight * t};
  return fit;
}

}  // namespace

std::vector<std::int64_t> TrackBuilder::stitch(const std::vector<std::int64_t>& labels,
                                               const std::vector<std::int64_t>& pieces,
                                               const float* xyz, double maxXy, double maxZ,
                                               int minTrackSize) {
  const auto numHits = static_cast<std::int64_t>(labels.size());
  if (pieces.size() != labels.size()) {
    throw Error("TrackBuilder: stitching got " + std::to_string(labels.size()) +
                " track labels and " + std::to_string(pieces.size()) + " piece labels");
  }
  if (!(maxXy > 0.0 && maxZ > 0.0)) {
    throw Error("TrackBuilder: the stitching's residual limits must be > 0 mm");
  }
  // Groups: the tracks (0..T-1), then the pieces (T..), each its hits in index order.
  std::int64_t numTracks = 0, numPieces = 0;
  for (std::int64_t h = 0; h < numHits; ++h) {
    if (labels[h] >= 0 && pieces[h] >= 0) {
      throw Error("TrackBuilder: stitching: hit " + std::to_string(h) +
                  " is in a track and in a piece");
    }
    numTracks = std::max(numTracks, labels[h] + 1);
    numPieces = std::max(numPieces, pieces[h] + 1);
  }
  std::vector<std::vector<std::int64_t>> groups(static_cast<std::size_t>(numTracks + numPieces));
  for (std::int64_t h = 0; h < numHits; ++h) {
    if (labels[h] >= 0) groups[labels[h]].push_back(h);
    if (pieces[h] >= 0) groups[numTracks + pieces[h]].push_back(h);
  }
  std::vector<double> dist(static_cast<std::size_t>(numHits));
  for (std::int64_t h = 0; h < numHits; ++h) {
    const double x = xyz[3 * h], y = xyz[3 * h + 1], z = xyz[3 * h + 2];
    dist[h] = std::sqrt(x * x + y * y + z * z);
  }
  // The helix of each group of at least kStitchMinPiece hits, by the angle of its direction.
  struct Piece {
    std::int64_t group;
    double angle, nearest, farthest;
    std::array<double, 3> key;
  };
  std::vector<Piece> fitted;
  const std::vector<std::int64_t> none;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].size() < static_cast<std::size_t>(kStitchMinPiece)) continue;
    const std::optional<HelixFit> f = helixFit(groups[g], none, xyz);
    if (!f) continue;
    double nearest = dist[groups[g].front()], farthest = nearest;
    for (const std::int64_t h : groups[g]) {
      nearest = std::min(nearest, dist[h]);
      farthest = std::max(farthest, dist[h]);
    }
    fitted.push_back({static_cast<std::int64_t>(g), std::atan2(f->key[1], f->key[0]), nearest,
                      farthest, f->key});
  }
  std::sort(fitted.begin(), fitted.end(), [](const Piece& a, const Piece& b) {
    return std::tie(a.angle, a.group) < std::tie(b.angle, b.group);
  });
  // Candidate pairs: keys within kStitchKeyRadius, found by a sweep over the angle (unit
  // directions that close differ by at most 2 asin(r / 2) in angle), both orders.
  const double window = 2.0 * std::asin(kStitchKeyRadius / 2.0) + 1e-12;
  const double r2 = kStitchKeyRadius * kStitchKeyRadius;
  std::vector<std::tuple<double, std::int64_t, std::int64_t>> candidates;
  const std::size_t m = fitted.size();
  for (std::size_t u = 0; u < m; ++u) {
    for (std::size_t step = 1; step < m; ++step) {
      const std::size_t v = (u + step) % m;
      double gap = fitted[v].angle - fitted[u].angle;
      if (gap < 0.0) gap += 2.0 * M_PI;
      if (gap > window) break;
      double k2 = 0.0;
      for (int c = 0; c < 3; ++c) {
        const double dk = fitted[u].key[c] - fitted[v].key[c];
        k2 += dk * dk;
      }
      if (k2 > r2) continue;
      for (const auto& [in, out] : {std::pair{u, v}, std::pair{v, u}}) {
        if (fitted[out].nearest < fitted[in].farthest - kStitchOverlap) continue;
        const std::int64_t i = fitted[in].group, j = fitted[out].group;
        const std::optional<HelixFit> f = helixFit(groups[i], groups[j], xyz);
        if (f && f->resXy < maxXy && f->resZ < maxZ) {
          candidates.emplace_back(f->resXy / maxXy + f->resZ / maxZ, i, j);
        }
      }
    }
  }
  std::sort(candidates.begin(), candidates.end());
  // Join, lowest cost first, while all the hits of the two groups still fit one helix
  // within the limits (a group's hits stay in index order).
  std::vector<std::int64_t> parent(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) parent[g] = static_cast<std::int64_t>(g);
  const auto root = [&](std::int64_t g) {
    while (parent[g] != g) g = parent[g];
    return g;
  };
  std::vector<std::vector<std::int64_t>> joined = groups;
  for (const auto& [cost, i, j] : candidates) {
    const std::int64_t ri = root(i), rj = root(j);
    if (ri == rj) continue;
    std::vector<std::int64_t> hits;
    hits.reserve(joined[ri].size() + joined[rj].size());
    std::merge(joined[ri].begin(), joined[ri].end(), joined[rj].begin(), joined[rj].end(),
               std::back_inserter(hits));
    const std::optional<HelixFit> f = helixFit(hits, none, xyz);
    if (!(f && f->resXy < maxXy && f->resZ < maxZ)) continue;
    const std::int64_t keep = std::min(ri, rj), gone = std::max(ri, rj);
    parent[gone] = keep;
    joined[keep] = std::move(hits);
    joined[gone].clear();
  }
  // Keep a group with a track or two pieces, and enough hits (joined[r] holds them all);
  // number by the lowest hit.
  std::vector<std::int64_t> members(groups.size(), 0);
  std::vector<char> holdsTrack(groups.size(), 0);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::int64_t r = root(static_cast<std::int64_t>(g));
    members[r] += 1;
    if (static_cast<std::int64_t>(g) < numTracks) holdsTrack[r] = 1;
  }
  std::vector<std::int64_t> out(static_cast<std::size_t>(numHits), -1);
  std::vector<std::int64_t> number(groups.size(), -1);
  std::int64_t next = 0;
  for (std::int64_t h = 0; h < numHits; ++h) {
    const std::int64_t g = labels[h] >= 0 ? labels[h] : pieces[h] >= 0 ? numTracks + pieces[h] : -1;
    if (g < 0) continue;
    const std::int64_t r = root(g);
    if (!(holdsTrack[r] || members[r] >= 2) ||
        joined[r].size() < static_cast<std::size_t>(std::max(minTrackSize, 0))) {
      continue;
    }
    if (number[r] < 0) number[r] = next++;
    out[h] = number[r];
  }
  return out;
}

}  // namespace trkaas
