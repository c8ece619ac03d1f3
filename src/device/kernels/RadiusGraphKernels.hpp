#pragma once
/// Kernel bodies of the grid radius graph (GridRadiusGraph): each is an inline function of
/// one index and plain pointers, run by the CUDA kernels in GridRadiusGraph.cu and by the
/// host driver in GridRadiusGraph.cpp. Order of the steps:
///   1. chunkBounds (per chunk of points), reduceBounds (per coordinate): min and max of
///      every coordinate, and the first non-finite coordinate;
///   2. makeGridGeometry (on the host, from 2*D numbers): the grid, as in the CPU builder;
///   3. writeCellKey (per point), then a stable sort of the points by cell key;
///   4. gatherPoint (per sorted point): coordinates in cell order;
///   5. countNearest (per sorted point): how many neighbours it keeps, min(count, k);
///   6. an exclusive scan of the counts: each point's slice of one buffer;
///   7. selectNearest (per sorted point): its k nearest in its slice (a max-heap), then
///      rewritten in place as undirected pair keys lo * n + hi;
///   8. sort and unique of the pair keys, decodePair (per edge): src and dst columns.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "kernels/HostDevice.hpp"

namespace trkaas::device::detail {

/// Largest number of grid coordinates (GridRadiusGraph::kMaxGridDims).
constexpr int kMaxGrid = 8;
/// Points per thread of the bounds step.
constexpr std::int64_t kBoundsChunk = 256;

/// The cell list over the points, passed by value to the kernels.
struct GridGeometry {
  std::int64_t n = 0;
  std::int64_t dim = 0;
  /// Nearest neighbours kept per point.
  std::int64_t k = 1;
  /// Squared radius, in double as in the CPU builder.
  double r2 = 0.0;
  /// Cell width: the radius x (1 + 1e-6), so that rounding never puts neighbours two cells
  /// apart.
  double cell = 1.0;
  /// Grid coordinates used, and which embedding coordinate each one is.
  int g = 1;
  int axis[kMaxGrid] = {};
  /// Lowest value and number of cells along each grid coordinate.
  double lo[kMaxGrid] = {};
  std::int64_t extent[kMaxGrid] = {};
  /// Runs of consecutive cell keys a point looks up: 3^(g-1).
  std::int64_t rows = 1;
};

/// Min, max and first non-finite coordinate (flat index, or -1) of the points of chunk c
/// ([c * kBoundsChunk, ...)), written to row c of the partial arrays (dim floats each).
TRKAAS_HOST_DEVICE inline void chunkBounds(std::int64_t c, const float* points, std::int64_t n,
                                           std::int64_t dim, float* partMin, float* partMax,
                                           std::int64_t* partBad) {
  const std::int64_t first = c * kBoundsChunk;
  const std::int64_t last = first + kBoundsChunk < n ? first + kBoundsChunk : n;
  float* mn = partMin + c * dim;
  float* mx = partMax + c * dim;
  std::int64_t bad = -1;
  for (std::int64_t d = 0; d < dim; ++d) {
    mn[d] = mx[d] = points[first * dim + d];
  }
  for (std::int64_t i = first; i < last; ++i) {
    for (std::int64_t d = 0; d < dim; ++d) {
      const float x = points[i * dim + d];
      if (!isFinite(x)) {
        bad = bad < 0 ? i * dim + d : bad;
      }
      mn[d] = x < mn[d] ? x : mn[d];
      mx[d] = x > mx[d] ? x : mx[d];
    }
  }
  partBad[c] = bad;
}

/// Coordinate d's min and max over the chunks; for d == 0 also the first non-finite
/// coordinate over all chunks (-1 if none). Bounds are meaningless when one is found.
TRKAAS_HOST_DEVICE inline void reduceBounds(std::int64_t d, const float* partMin,
                                            const float* partMax, const std::int64_t* partBad,
                                            std::int64_t numChunks, std::int64_t dim, float* mins,
                                            float* maxs, std::int64_t* firstBad) {
  float mn = partMin[d];
  float mx = partMax[d];
  for (std::int64_t c = 1; c < numChunks; ++c) {
    mn = partMin[c * dim + d] < mn ? partMin[c * dim + d] : mn;
    mx = partMax[c * dim + d] > mx ? partMax[c * dim + d] : mx;
  }
  mins[d] = mn;
  maxs[d] = mx;
  if (d == 0) {
    std::int64_t bad = -1;
    for (std::int64_t c = 0; c < numChunks && bad < 0; ++c) {
      bad = partBad[c];
    }
    *firstBad = bad;
  }
}

/// The grid of the CPU builder (GraphBuilder.cpp, buildGrid): the g coordinates of widest
/// range (ties to the lower coordinate), cells one radius (x (1 + 1e-6)) wide, at most
/// 2^(62/g) cells per coordinate so that a key fits in 62 bits. Host only; n >= 1.
inline GridGeometry makeGridGeometry(const float* mins, const float* maxs, std::int64_t n,
                                     std::int64_t dim, float radius, int maxNeighbours,
                                     int gridDims) {
  GridGeometry geo;
  geo.n = n;
  geo.dim = dim;
  geo.k = maxNeighbours;
  geo.r2 = static_cast<double>(radius) * static_cast<double>(radius);
  geo.cell = static_cast<double>(radius) * (1.0 + 1e-6);
  geo.g = static_cast<int>(std::min<std::int64_t>(gridDims, dim));
  std::vector<std::int64_t> axis(static_cast<std::size_t>(dim));
  std::iota(axis.begin(), axis.end(), 0);
  const auto range = [&](std::int64_t d) {
    return static_cast<double>(maxs[d]) - static_cast<double>(mins[d]);
  };
  std::stable_sort(axis.begin(), axis.end(),
                   [&](std::int64_t a, std::int64_t b) { return range(a) > range(b); });
  const double cap = std::ldexp(1.0, 62 / geo.g);
  geo.rows = 1;
  for (int d = 0; d < geo.g; ++d) {
    geo.axis[d] = static_cast<int>(axis[static_cast<std::size_t>(d)]);
    geo.lo[d] = mins[geo.axis[d]];
    geo.extent[d] =
        static_cast<std::int64_t>(std::min(std::floor(range(geo.axis[d]) / geo.cell) + 1.0, cap));
    geo.rows *= d + 1 < geo.g ? 3 : 1;
  }
  return geo;
}

/// Cell coordinate of point x along grid coordinate d (clamped onto the last cell, which
/// only adds candidates).
TRKAAS_HOST_DEVICE inline std::int64_t cellCoord(const float* x, int d, const GridGeometry& geo) {
  const double c = floor((static_cast<double>(x[geo.axis[d]]) - geo.lo[d]) / geo.cell);
  const double last = static_cast<double>(geo.extent[d] - 1);
  return static_cast<std::int64_t>(c < last ? c : last);
}

/// Linear cell key of point x: its cell coordinates, the last one varying fastest.
TRKAAS_HOST_DEVICE inline std::int64_t cellKeyOf(const float* x, const GridGeometry& geo) {
  std::int64_t key = 0;
  for (int d = 0; d < geo.g; ++d) {
    key = key * geo.extent[d] + cellCoord(x, d, geo);
  }
  return key;
}

/// Step 3: cell key of point i, and i as the value sorted along with it.
TRKAAS_HOST_DEVICE inline void writeCellKey(std::int64_t i, const float* points,
                                            const GridGeometry& geo, std::int64_t* keys,
                                            std::int64_t* order) {
  keys[i] = cellKeyOf(points + i * geo.dim, geo);
  order[i] = i;
}

/// Step 4: coordinates of sorted point p (original index order[p]) into row p of `sorted`.
TRKAAS_HOST_DEVICE inline void gatherPoint(std::int64_t p, const float* points, std::int64_t dim,
                                           const std::int64_t* order, float* sorted) {
  const float* from = points + order[p] * dim;
  for (std::int64_t d = 0; d < dim; ++d) {
    sorted[p * dim + d] = from[d];
  }
}

/// Squared distance of two float points in double, coordinates summed in order 0..dim-1,
/// each product and sum rounded once: the bits of the CPU builder's distance2.
TRKAAS_HOST_DEVICE inline double distance2(const float* a, const float* b, std::int64_t dim) {
  double s = 0.0;
  for (std::int64_t d = 0; d < dim; ++d) {
    const double t = static_cast<double>(a[d]) - static_cast<double>(b[d]);
    s = addRn(s, mulRn(t, t));
  }
  return s;
}

/// The points sorted by cell: coordinates (row p), cell keys (ascending) and original
/// indices.
struct SortedPoints {
  const float* coords = nullptr;
  const std::int64_t* keys = nullptr;
  const std::int64_t* index = nullptr;
};

/// Calls visit(q, d2) for every sorted point q != p within the radius of sorted point p:
/// for each of the 3^(g-1) rows of neighbour cells, a binary search for the first key of
/// the row, then the points of up to three consecutive cells.
template <class Visitor>
TRKAAS_HOST_DEVICE inline void forEachNeighbour(std::int64_t p, const SortedPoints& pts,
                                                const GridGeometry& geo, Visitor& visit) {
  const float* x = pts.coords + p * geo.dim;
  std::int64_t coord[kMaxGrid];
  for (int d = 0; d < geo.g; ++d) {
    coord[d] = cellCoord(x, d, geo);
  }
  const int gLast = geo.g - 1;
  const std::int64_t nLast = geo.extent[gLast];
  for (std::int64_t row = 0; row < geo.rows; ++row) {
    std::int64_t digits = row;
    std::int64_t prefix = 0;
    bool inside = true;
    for (int d = 0; d < gLast; ++d) {
      const std::int64_t cd = coord[d] + digits % 3 - 1;
      digits /= 3;
      inside = inside && cd >= 0 && cd < geo.extent[d];
      prefix = prefix * geo.extent[d] + cd;
    }
    if (!inside) {
      continue;
    }
    const std::int64_t keyLo = prefix * nLast + (coord[gLast] > 0 ? coord[gLast] - 1 : 0);
    const std::int64_t keyHi =
        prefix * nLast + (coord[gLast] + 1 < nLast ? coord[gLast] + 1 : nLast - 1);
    std::int64_t a = 0;
    std::int64_t b = geo.n;
    while (a < b) {
      const std::int64_t m = a + (b - a) / 2;
      if (pts.keys[m] < keyLo) {
        a = m + 1;
      } else {
        b = m;
      }
    }
    for (std::int64_t q = a; q < geo.n && pts.keys[q] <= keyHi; ++q) {
      if (q == p) {
        continue;
      }
      const double d2 = distance2(x, pts.coords + q * geo.dim, geo.dim);
      if (d2 <= geo.r2) {
        visit(q, d2);
      }
    }
  }
}

/// Counts neighbours up to k.
struct CountVisitor {
  std::int64_t count = 0;
  TRKAAS_HOST_DEVICE void operator()(std::int64_t, double) { ++count; }
};

/// Step 5: number of neighbours sorted point p keeps, min(neighbours, k), in counts[p].
TRKAAS_HOST_DEVICE inline void countNearest(std::int64_t p, const SortedPoints& pts,
                                            const GridGeometry& geo, std::int64_t* counts) {
  CountVisitor visit;
  forEachNeighbour(p, pts, geo, visit);
  counts[p] = visit.count < geo.k ? visit.count : geo.k;
}

/// The k nearest candidates of one point, as a max-heap (largest distance, then largest
/// index, on top) in the point's own slice of the candidate buffers.
struct NearestHeap {
  double* d2 = nullptr;
  std::int64_t* j = nullptr;
  std::int64_t capacity = 0;
  std::int64_t size = 0;

  /// The order of the definition: distance, then index.
  TRKAAS_HOST_DEVICE static bool closer(double da, std::int64_t ja, double db, std::int64_t jb) {
    return da < db || (da == db && ja < jb);
  }

  TRKAAS_HOST_DEVICE void push(double d, std::int64_t idx) {
    std::int64_t c = 0;
    if (size < capacity) {  // sift up from the new leaf
      c = size++;
      while (c > 0) {
        const std::int64_t parent = (c - 1) / 2;
        if (!closer(d2[parent], j[parent], d, idx)) {
          break;
        }
        d2[c] = d2[parent];
        j[c] = j[parent];
        c = parent;
      }
    } else if (closer(d, idx, d2[0], j[0])) {  // replace the farthest, sift down
      while (true) {
        const std::int64_t left = 2 * c + 1;
        if (left >= size) {
          break;
        }
        std::int64_t m = left;
        if (left + 1 < size && closer(d2[left], j[left], d2[left + 1], j[left + 1])) {
          m = left + 1;
        }
        if (!closer(d, idx, d2[m], j[m])) {
          break;
        }
        d2[c] = d2[m];
        j[c] = j[m];
        c = m;
      }
    } else {
      return;
    }
    d2[c] = d;
    j[c] = idx;
  }
};

/// Pushes neighbours (as original indices) into a heap.
struct SelectVisitor {
  NearestHeap* heap;
  const std::int64_t* index;
  TRKAAS_HOST_DEVICE void operator()(std::int64_t q, double d2) { heap->push(d2, index[q]); }
};

/// Step 7: the k nearest neighbours of sorted point p into its slice
/// [offsets[p], offsets[p + 1]) of candD2/candKey, then each rewritten in place as the
/// undirected pair key lo * n + hi of (original index of p, neighbour).
TRKAAS_HOST_DEVICE inline void selectNearest(std::int64_t p, const SortedPoints& pts,
                                             const GridGeometry& geo, const std::int64_t* offsets,
                                             double* candD2, std::int64_t* candKey) {
  NearestHeap heap;
  heap.d2 = candD2 + offsets[p];
  heap.j = candKey + offsets[p];
  heap.capacity = offsets[p + 1] - offsets[p];
  if (heap.capacity == 0) {
    return;
  }
  SelectVisitor visit{&heap, pts.index};
  forEachNeighbour(p, pts, geo, visit);
  const std::int64_t i = pts.index[p];
  for (std::int64_t s = 0; s < heap.size; ++s) {
    const std::int64_t j = heap.j[s];
    heap.j[s] = i < j ? i * geo.n + j : j * geo.n + i;
  }
}

/// Step 8: edge e of the sorted unique pair keys as (src, dst).
TRKAAS_HOST_DEVICE inline void decodePair(std::int64_t e, const std::int64_t* keys, std::int64_t n,
                                          std::int64_t* src, std::int64_t* dst) {
  src[e] = keys[e] / n;
  dst[e] = keys[e] % n;
}

}  // namespace trkaas::device::detail
