#include "trkaas/pipeline/GraphBuilder.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "FaissRadiusSearch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/device/GridRadiusGraph.hpp"

namespace trkaas {

namespace {

/// One directed choice "lo kept hi or hi kept lo", stored undirected (lo < hi).
struct Pair {
  std::int64_t lo;
  std::int64_t hi;
};

/// A neighbour candidate of one point: squared distance, then index (the tie-break).
struct Candidate {
  double d2;
  std::int64_t j;
  bool operator<(const Candidate& o) const { return d2 < o.d2 || (d2 == o.d2 && j < o.j); }
};

/// Squared Euclidean distance of two float points, evaluated in double: the one distance
/// every backend uses, so that they agree to the last bit.
/// (Coordinates [from, to) added to `s` in order: summing in two pieces gives the same bits.)
inline double distance2(const float* a, const float* b, std::int64_t from, std::int64_t to,
                        double s = 0.0) {
  for (std::int64_t d = from; d < to; ++d) {
    const double t = static_cast<double>(a[d]) - static_cast<double>(b[d]);
    s += t * t;
  }
  return s;
}

/// Keeps the k nearest candidates of point i and appends them as undirected pairs.
void keepNearest(std::int64_t i, std::vector<Candidate>& cand, std::size_t k,
                 std::vector<Pair>& out) {
  if (cand.size() > k) {
    std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(k), cand.end());
    cand.resize(k);
  }
  for (const Candidate& c : cand) {
    out.push_back(i < c.j ? Pair{i, c.j} : Pair{c.j, i});
  }
}

/// The pairs of all threads as sorted, deduplicated columns. A counting sort by the lower
/// index, then a sort of each (short) row: the result depends only on the set of pairs.
EdgeList mergePairs(const std::vector<std::vector<Pair>>& parts, std::int64_t n) {
  std::vector<std::size_t> rowStart(static_cast<std::size_t>(n) + 1, 0);
  for (const auto& part : parts) {
    for (const Pair& p : part) {
      ++rowStart[static_cast<std::size_t>(p.lo) + 1];
    }
  }
  for (std::size_t i = 1; i < rowStart.size(); ++i) {
    rowStart[i] += rowStart[i - 1];
  }
  std::vector<std::int64_t> hi(rowStart.back());
  std::vector<std::size_t> cursor(rowStart.begin(), rowStart.end() - 1);
  for (const auto& part : parts) {
    for (const Pair& p : part) {
      hi[cursor[static_cast<std::size_t>(p.lo)]++] = p.hi;
    }
  }
  EdgeList edges;
  edges.src.reserve(hi.size());
  edges.dst.reserve(hi.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const auto first = hi.begin() + static_cast<std::ptrdiff_t>(rowStart[i]);
    const auto last = hi.begin() + static_cast<std::ptrdiff_t>(rowStart[i + 1]);
    std::sort(first, last);
    const auto end = std::unique(first, last);
    edges.src.insert(edges.src.end(), static_cast<std::size_t>(end - first), i);
    edges.dst.insert(edges.dst.end(), first, end);
  }
  return edges;
}

/// Runs work(slot, first, last) over [0, count) in chunks of `chunk` items, handed out
/// in turn (cells differ in cost) to `threads` OpenMP threads: the runtime torch uses too
/// (PyTorch's libtorch_cpu and this library need the one libgomp.so.1), so the process
/// keeps one pool. Each slot is one thread's, so work may write to it without locks. An
/// exception stops the remaining chunks and is rethrown here. Without OpenMP (a compiler
/// without it) the chunks run in turn on the calling thread.
template <class Work>
void parallelChunks(std::size_t count, std::size_t chunk, int threads, const Work& work) {
  const auto chunks = static_cast<std::int64_t>((count + chunk - 1) / chunk);
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(threads));
  std::atomic<bool> failed{false};
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int64_t c = 0; c < chunks; ++c) {
    if (failed.load(std::memory_order_relaxed)) continue;
#ifdef _OPENMP
    const int slot = omp_get_thread_num();
#else
    const int slot = 0;
#endif
    const std::size_t first = static_cast<std::size_t>(c) * chunk;
    try {
      work(slot, first, std::min(count, first + chunk));
    } catch (...) {
      if (!errors[static_cast<std::size_t>(slot)]) {
        errors[static_cast<std::size_t>(slot)] = std::current_exception();
      }
      failed = true;
    }
  }
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

/// Threads worth starting for `items` units of work (the result never depends on it).
int usefulThreads(int threads, std::size_t items, std::size_t perThread) {
  return static_cast<int>(std::max<std::size_t>(
      1, std::min<std::size_t>(static_cast<std::size_t>(threads), items / perThread)));
}

void checkInput(const float* points, std::int64_t n, std::int64_t dim) {
  if (n < 0) {
    throw Error("GraphBuilder::build: number of points must be >= 0, got " + std::to_string(n));
  }
  if (dim < 1) {
    throw Error("GraphBuilder::build: dimension must be >= 1, got " + std::to_string(dim));
  }
  if (n > 0 && points == nullptr) {
    throw Error("GraphBuilder::build: points is null for " + std::to_string(n) + " points");
  }
  const std::int64_t total = n * dim;
  for (std::int64_t k = 0; k < total; ++k) {
    if (!std::isfinite(points[k])) {
      std::ostringstream msg;
      msg << "GraphBuilder::build: point " << k / dim << ", coordinate " << k % dim << " is "
          << points[k] << "; embedding coordinates must be finite";
      throw Error(msg.str());
    }
  }
}

/// The grid backend: points sorted into cells one radius wide on g coordinates;
/// each point checks the points of its own and the adjacent cells (3^g cells, found as
/// 3^(g-1) runs of consecutive cell keys).
EdgeList buildGrid(const float* points, std::int64_t n, std::int64_t dim,
                   const GraphBuilder::Config& config) {
  const std::int64_t g = std::min<std::int64_t>(config.gridDims, dim);
  const double r2 = static_cast<double>(config.radius) * static_cast<double>(config.radius);
  // Slightly wider than the radius, so that two points within the radius are never two
  // cells apart through rounding of the cell coordinate.
  const double cell = static_cast<double>(config.radius) * (1.0 + 1e-6);

  // Cells per grid coordinate, capped so that the linear cell key fits in 62 bits. Capping
  // (clamping far cells onto the last one) only adds candidates, never loses neighbours.
  // The grid is laid over the g coordinates of largest spread (range): a trained embedding
  // need not spread its points along its first coordinates, and the widest ones separate
  // the most candidates. The exact check below uses all D coordinates: the edges do not
  // depend on this choice.
  std::vector<double> mins(static_cast<std::size_t>(dim)), maxs(static_cast<std::size_t>(dim));
  for (std::int64_t d = 0; d < dim; ++d) {
    mins[d] = maxs[d] = points[d];
  }
  for (std::int64_t i = 1; i < n; ++i) {
    for (std::int64_t d = 0; d < dim; ++d) {
      mins[d] = std::min<double>(mins[d], points[i * dim + d]);
      maxs[d] = std::max<double>(maxs[d], points[i * dim + d]);
    }
  }
  std::vector<std::int64_t> axis(static_cast<std::size_t>(dim));
  for (std::int64_t d = 0; d < dim; ++d) {
    axis[d] = d;
  }
  std::stable_sort(axis.begin(), axis.end(), [&](std::int64_t a, std::int64_t b) {
    return maxs[a] - mins[a] > maxs[b] - mins[b];
  });
  axis.resize(static_cast<std::size_t>(g));
  std::vector<double> lo(static_cast<std::size_t>(g), 0.0);
  std::vector<std::int64_t> extent(static_cast<std::size_t>(g), 1);
  const double cap = std::ldexp(1.0, static_cast<int>(62 / g));
  for (std::int64_t d = 0; d < g; ++d) {
    lo[d] = mins[axis[d]];
    extent[d] = static_cast<std::int64_t>(
        std::min(std::floor((maxs[axis[d]] - mins[axis[d]]) / cell) + 1.0, cap));
  }
  const auto cellCoord = [&](const float* p, std::int64_t d) {
    const double c = std::floor((static_cast<double>(p[axis[d]]) - lo[d]) / cell);
    return static_cast<std::int64_t>(std::min(c, static_cast<double>(extent[d] - 1)));
  };

  // Points ordered by cell key (then index), with their coordinates copied in that order.
  std::vector<std::pair<std::int64_t, std::int64_t>> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t key = 0;
    for (std::int64_t d = 0; d < g; ++d) {
      key = key * extent[d] + cellCoord(points + i * dim, d);
    }
    order[i] = {key, i};
  }
  std::sort(order.begin(), order.end());
  std::vector<float> sorted(static_cast<std::size_t>(n * dim));
  // The grid coordinates again, one column per coordinate, for a vectorised first cut.
  std::vector<float> gridCoords(static_cast<std::size_t>(g * n));
  std::vector<std::int64_t> index(static_cast<std::size_t>(n));
  std::vector<std::int64_t> cellKeys;
  std::vector<std::size_t> cellStart;
  for (std::int64_t p = 0; p < n; ++p) {
    const std::int64_t i = order[p].second;
    index[p] = i;
    std::copy(points + i * dim, points + (i + 1) * dim, sorted.begin() + p * dim);
    for (std::int64_t d = 0; d < g; ++d) {
      gridCoords[d * n + p] = points[i * dim + axis[d]];
    }
    if (p == 0 || order[p].first != order[p - 1].first) {
      cellKeys.push_back(order[p].first);
      cellStart.push_back(static_cast<std::size_t>(p));
    }
  }
  cellStart.push_back(static_cast<std::size_t>(n));
  order = {};

  const std::size_t numCells = cellKeys.size();
  const int threads = usefulThreads(config.threads, numCells, 256);
  const std::size_t k = static_cast<std::size_t>(config.maxNeighbours);
  std::vector<std::vector<Pair>> parts(static_cast<std::size_t>(threads));
  const std::int64_t gLast = g - 1;
  // The float first cut keeps every pair within the radius: its relative rounding error is
  // far below 1e-4. Out of float's comfortable range it is switched off (infinite cut).
  const float cutRadius2 = r2 > 1e-30 && r2 < 1e30 ? static_cast<float>(r2 * (1.0 + 1e-4))
                                                   : std::numeric_limits<float>::infinity();
  const std::int64_t nLast = extent[gLast];

  parallelChunks(numCells, 64, threads, [&](int t, std::size_t first, std::size_t last) {
    std::vector<Pair>& out = parts[t];
    std::vector<Candidate> cand;
    std::vector<float> cut;
    std::vector<std::uint32_t> keep;
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    std::vector<std::int64_t> coord(static_cast<std::size_t>(g));
    std::vector<std::int64_t> offset(static_cast<std::size_t>(g), -1);
    for (std::size_t c = first; c < last; ++c) {
      // Decode the cell coordinates from the key.
      std::int64_t key = cellKeys[c];
      for (std::int64_t d = g - 1; d >= 0; --d) {
        coord[d] = key % extent[d];
        key /= extent[d];
      }
      // Runs of neighbour cells: every offset in -1..1 of the first g-1 coordinates, and
      // the three cells along the last one (consecutive keys).
      ranges.clear();
      std::fill(offset.begin(), offset.end(), -1);
      while (true) {
        std::int64_t prefix = 0;
        bool inside = true;
        for (std::int64_t d = 0; d < gLast; ++d) {
          const std::int64_t cd = coord[d] + offset[d];
          inside = inside && cd >= 0 && cd < extent[d];
          prefix = prefix * extent[d] + cd;
        }
        if (inside) {
          const std::int64_t keyLo = prefix * nLast + std::max<std::int64_t>(coord[gLast] - 1, 0);
          const std::int64_t keyHi =
              prefix * nLast + std::min<std::int64_t>(coord[gLast] + 1, nLast - 1);
          const auto a = std::lower_bound(cellKeys.begin(), cellKeys.end(), keyLo);
          const auto b = std::upper_bound(a, cellKeys.end(), keyHi);
          if (a != b) {
            ranges.emplace_back(cellStart[a - cellKeys.begin()], cellStart[b - cellKeys.begin()]);
          }
        }
        std::int64_t d = 0;
        while (d < gLast && offset[d] == 1) {
          offset[d++] = -1;
        }
        if (d == gLast) {
          break;
        }
        ++offset[d];
      }
      for (std::size_t p = cellStart[c]; p < cellStart[c + 1]; ++p) {
        const float* x = sorted.data() + p * dim;
        cand.clear();
        for (const auto& [qFirst, qLast] : ranges) {
          // First cut in float on the grid coordinates (vectorised, a little generous);
          // the survivors get the exact double-precision distance in all D coordinates.
          const std::size_t len = qLast - qFirst;
          cut.assign(len, 0.0f);
          keep.resize(len);
          for (std::int64_t d = 0; d < g; ++d) {
            const float* column = gridCoords.data() + d * n + qFirst;
            const float xd = x[axis[d]];
            for (std::size_t m = 0; m < len; ++m) {
              const float t = column[m] - xd;
              cut[m] += t * t;
            }
          }
          std::size_t kept = 0;
          for (std::size_t m = 0; m < len; ++m) {  // branch-free compaction
            keep[kept] = static_cast<std::uint32_t>(m);
            kept += cut[m] <= cutRadius2 ? 1 : 0;
          }
          for (std::size_t s = 0; s < kept; ++s) {
            const std::size_t q = qFirst + keep[s];
            const double d2 = distance2(x, sorted.data() + q * dim, 0, dim);
            if (d2 <= r2 && q != p) {
              cand.push_back({d2, index[q]});
            }
          }
        }
        keepNearest(index[p], cand, k, out);
      }
    }
  });
  return mergePairs(parts, n);
}

/// The FAISS backend: a flat range search with a radius widened beyond FAISS's rounding,
/// then the same exact distance check and k selection as the grid.
EdgeList buildFaiss(const float* points, std::int64_t n, std::int64_t dim,
                    const GraphBuilder::Config& config) {
  const double r2 = static_cast<double>(config.radius) * static_cast<double>(config.radius);
  // FAISS computes |x|^2 + |y|^2 - 2 x.y in float: its error scales with the squared norms.
  double maxNorm2 = 0.0;
  for (std::int64_t k = 0, i = 0; i < n; ++i) {
    double norm2 = 0.0;
    for (std::int64_t d = 0; d < dim; ++d, ++k) {
      norm2 += static_cast<double>(points[k]) * static_cast<double>(points[k]);
    }
    maxNorm2 = std::max(maxNorm2, norm2);
  }
  // Its rounding error is at most a few times dim * 6e-8 * (|x|^2 + |y|^2): widen by far more.
  const double widened =
      (r2 + 4e-6 * static_cast<double>(dim + 4) * (r2 + maxNorm2)) * (1.0 + 1e-4);
  std::vector<std::size_t> offsets;
  std::vector<std::int64_t> found;
  detail::faissRangeCandidates(points, n, dim, static_cast<float>(widened), offsets, found);

  const int threads = usefulThreads(config.threads, static_cast<std::size_t>(n), 2048);
  const std::size_t k = static_cast<std::size_t>(config.maxNeighbours);
  std::vector<std::vector<Pair>> parts(static_cast<std::size_t>(threads));
  parallelChunks(static_cast<std::size_t>(n), 1024, threads,
                 [&](int t, std::size_t first, std::size_t last) {
                   std::vector<Candidate> cand;
                   for (std::size_t i = first; i < last; ++i) {
                     cand.clear();
                     for (std::size_t e = offsets[i]; e < offsets[i + 1]; ++e) {
                       const std::int64_t j = found[e];
                       const double d2 = distance2(points + i * dim, points + j * dim, 0, dim);
                       if (d2 <= r2 && j != static_cast<std::int64_t>(i)) {
                         cand.push_back({d2, j});
                       }
                     }
                     keepNearest(static_cast<std::int64_t>(i), cand, k, parts[t]);
                   }
                 });
  return mergePairs(parts, n);
}

}  // namespace

GraphBuilder::GraphBuilder(Config config) : m_config(config) {
  static_assert(kMaxGridDims == device::GridRadiusGraph::kMaxGridDims, "one limit for the grid");
  std::ostringstream msg;
  const std::string shared =
      device::radiusGraphConfigError(config.radius, config.maxNeighbours, config.gridDims);
  if (!shared.empty()) {
    msg << "GraphBuilder: " << shared;
  } else if (config.threads < 1) {
    msg << "GraphBuilder: threads must be >= 1, got " << config.threads;
  } else if (config.backend == Backend::kFaiss && !faissAvailable()) {
    msg << "GraphBuilder: backend faiss asked for, but this trkaas is built without FAISS "
           "(FAISS was not found at configure time); use the grid backend";
  } else if (config.backend != Backend::kGrid && config.backend != Backend::kFaiss) {
    msg << "GraphBuilder: unknown backend " << static_cast<int>(config.backend);
  }
  if (!msg.str().empty()) {
    throw Error(msg.str());
  }
}

bool GraphBuilder::faissAvailable() { return detail::faissBuiltIn(); }

EdgeList GraphBuilder::build(const float* points, std::int64_t n, std::int64_t dim) const {
  checkInput(points, n, dim);
  if (n < 2) {
    return {};
  }
  return m_config.backend == Backend::kFaiss ? buildFaiss(points, n, dim, m_config)
                                             : buildGrid(points, n, dim, m_config);
}

}  // namespace trkaas
