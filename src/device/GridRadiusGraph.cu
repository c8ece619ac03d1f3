/// GridRadiusGraph's device launcher: the `__global__` wrappers of the kernel bodies in
/// kernels/RadiusGraphKernels.hpp, cub for the sorts, scan and unique. Compiled with nvcc
/// for sm_80/sm_90; see src/device/README.md for what has run on a GPU.
#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_select.cuh>
#include <memory>
#include <vector>

#include "CubCall.cuh"
#include "CudaTools.cuh"
#include "RadiusGraphChecks.hpp"
#include "kernels/RadiusGraphKernels.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/device/GridRadiusGraph.hpp"

namespace trkaas::device {

namespace {

using namespace detail;

__global__ void chunkBoundsKernel(std::int64_t numChunks, const float* points, std::int64_t n,
                                  std::int64_t dim, float* partMin, float* partMax,
                                  std::int64_t* partBad) {
  const std::int64_t c = threadIndex();
  if (c < numChunks) {
    chunkBounds(c, points, n, dim, partMin, partMax, partBad);
  }
}

__global__ void reduceBoundsKernel(std::int64_t dim, const float* partMin, const float* partMax,
                                   const std::int64_t* partBad, std::int64_t numChunks, float* mins,
                                   float* maxs, std::int64_t* firstBad) {
  const std::int64_t d = threadIndex();
  if (d < dim) {
    reduceBounds(d, partMin, partMax, partBad, numChunks, dim, mins, maxs, firstBad);
  }
}

__global__ void cellKeyKernel(GridGeometry geo, const float* points, std::int64_t* keys,
                              std::int64_t* order) {
  const std::int64_t i = threadIndex();
  if (i < geo.n) {
    writeCellKey(i, points, geo, keys, order);
  }
}

__global__ void gatherKernel(std::int64_t n, const float* points, std::int64_t dim,
                             const std::int64_t* order, float* sorted) {
  const std::int64_t p = threadIndex();
  if (p < n) {
    gatherPoint(p, points, dim, order, sorted);
  }
}

__global__ void countKernel(SortedPoints pts, GridGeometry geo, std::int64_t* counts) {
  const std::int64_t p = threadIndex();
  if (p < geo.n) {
    countNearest(p, pts, geo, counts);
  }
}

__global__ void selectKernel(SortedPoints pts, GridGeometry geo, const std::int64_t* offsets,
                             double* candD2, std::int64_t* candKey) {
  const std::int64_t p = threadIndex();
  if (p < geo.n) {
    selectNearest(p, pts, geo, offsets, candD2, candKey);
  }
}

__global__ void decodeKernel(std::int64_t numEdges, const std::int64_t* keys, std::int64_t n,
                             std::int64_t* src, std::int64_t* dst) {
  const std::int64_t e = threadIndex();
  if (e < numEdges) {
    decodePair(e, keys, n, src, dst);
  }
}

/// Copies one value from device memory and waits for it (and all work before it).
template <class T>
T fetch(const T* device, cudaStream_t stream) {
  T value{};
  TRKAAS_CUDA_CHECK(cudaMemcpyAsync(&value, device, sizeof(T), cudaMemcpyDeviceToHost, stream));
  TRKAAS_CUDA_CHECK(cudaStreamSynchronize(stream));
  return value;
}

}  // namespace

std::int64_t GridRadiusGraph::runOnDevice(const float* points, std::int64_t n, std::int64_t dim,
                                          const EdgeSink& sink, Stream stream) const {
  checkRadiusGraphInput("GridRadiusGraph::runOnDevice", points, n, dim);
  if (!sink) {
    throw Error("GridRadiusGraph::runOnDevice: no edge sink given");
  }
  if (n < 2) {
    sink(0);
    return 0;
  }
  const cudaStream_t s = toCuda(stream);

  // 1. Bounds and the first non-finite coordinate (first synchronisation).
  const std::int64_t numChunks = (n + kBoundsChunk - 1) / kBoundsChunk;
  DeviceArray<float> partMin(static_cast<std::size_t>(numChunks * dim), s);
  DeviceArray<float> partMax(partMin.size(), s);
  DeviceArray<std::int64_t> partBad(static_cast<std::size_t>(numChunks), s);
  DeviceArray<float> bounds(static_cast<std::size_t>(2 * dim), s);
  DeviceArray<std::int64_t> firstBad(1, s);
  chunkBoundsKernel<<<blocksFor(numChunks), kBlock, 0, s>>>(
      numChunks, points, n, dim, partMin.data(), partMax.data(), partBad.data());
  TRKAAS_CUDA_LAUNCHED();
  reduceBoundsKernel<<<blocksFor(dim), kBlock, 0, s>>>(dim, partMin.data(), partMax.data(),
                                                       partBad.data(), numChunks, bounds.data(),
                                                       bounds.data() + dim, firstBad.data());
  TRKAAS_CUDA_LAUNCHED();
  std::vector<float> hostBounds(bounds.size());
  TRKAAS_CUDA_CHECK(cudaMemcpyAsync(hostBounds.data(), bounds.data(), bounds.size() * sizeof(float),
                                    cudaMemcpyDeviceToHost, s));
  const std::int64_t bad = fetch(firstBad.data(), s);
  if (bad >= 0) {
    throwNonFinite("GridRadiusGraph::runOnDevice", bad, dim, fetch(points + bad, s));
  }

  // 2. The grid; 3. cell keys, points sorted by key (radix sort is stable: ties by index).
  const GridGeometry geo =
      makeGridGeometry(hostBounds.data(), hostBounds.data() + dim, n, dim, m_config.radius,
                       m_config.maxNeighbours, m_config.gridDims);
  const std::size_t un = static_cast<std::size_t>(n);
  DeviceArray<std::int64_t> keys(un, s), order(un, s), sortedKeys(un, s), sortedOrder(un, s);
  cellKeyKernel<<<blocksFor(n), kBlock, 0, s>>>(geo, points, keys.data(), order.data());
  TRKAAS_CUDA_LAUNCHED();
  runCub(
      "cub::DeviceRadixSort::SortPairs (cell keys)",
      [&](void* temp, std::size_t& bytes) {
        return cub::DeviceRadixSort::SortPairs(temp, bytes, keys.data(), sortedKeys.data(),
                                               order.data(), sortedOrder.data(), n, 0,
                                               static_cast<int>(8 * sizeof(std::int64_t)), s);
      },
      s);

  // 4. Coordinates in cell order.
  DeviceArray<float> sorted(un * static_cast<std::size_t>(dim), s);
  gatherKernel<<<blocksFor(n), kBlock, 0, s>>>(n, points, dim, sortedOrder.data(), sorted.data());
  TRKAAS_CUDA_LAUNCHED();
  const SortedPoints pts{sorted.data(), sortedKeys.data(), sortedOrder.data()};

  // 5. Kept neighbours per point; 6. their slices (second synchronisation: the total).
  DeviceArray<std::int64_t> counts(un + 1, s), offsets(un + 1, s);
  TRKAAS_CUDA_CHECK(cudaMemsetAsync(counts.data() + n, 0, sizeof(std::int64_t), s));
  countKernel<<<blocksFor(n), kBlock, 0, s>>>(pts, geo, counts.data());
  TRKAAS_CUDA_LAUNCHED();
  runCub(
      "cub::DeviceScan::ExclusiveSum (neighbour counts)",
      [&](void* temp, std::size_t& bytes) {
        return cub::DeviceScan::ExclusiveSum(temp, bytes, counts.data(), offsets.data(), n + 1, s);
      },
      s);
  const std::int64_t total = fetch(offsets.data() + n, s);

  // 7. The k nearest as pair keys; 8. sorted, unique (third synchronisation: E), decoded.
  const std::size_t ut = static_cast<std::size_t>(total);
  DeviceArray<double> candD2(ut, s);
  DeviceArray<std::int64_t> candKey(ut, s), sortedPairs(ut, s), uniquePairs(ut, s), numUnique(1, s);
  selectKernel<<<blocksFor(n), kBlock, 0, s>>>(pts, geo, offsets.data(), candD2.data(),
                                               candKey.data());
  TRKAAS_CUDA_LAUNCHED();
  std::int64_t numEdges = 0;
  if (total > 0) {
    // Pair keys are below n^2: sort only the bits that can be set.
    int endBit = 1;
    while (endBit < 63 && (std::int64_t{1} << endBit) < n * n) {
      ++endBit;
    }
    runCub(
        "cub::DeviceRadixSort::SortKeys (pair keys)",
        [&](void* temp, std::size_t& bytes) {
          return cub::DeviceRadixSort::SortKeys(temp, bytes, candKey.data(), sortedPairs.data(),
                                                total, 0, endBit, s);
        },
        s);
    runCub(
        "cub::DeviceSelect::Unique (pair keys)",
        [&](void* temp, std::size_t& bytes) {
          return cub::DeviceSelect::Unique(temp, bytes, sortedPairs.data(), uniquePairs.data(),
                                           numUnique.data(), total, s);
        },
        s);
    numEdges = fetch(numUnique.data(), s);
  }
  std::int64_t* out = sink(numEdges);
  if (numEdges > 0 && out == nullptr) {
    throw Error("GridRadiusGraph::runOnDevice: the edge sink gave no memory for " +
                std::to_string(numEdges) + " edges");
  }
  if (numEdges > 0) {
    decodeKernel<<<blocksFor(numEdges), kBlock, 0, s>>>(numEdges, uniquePairs.data(), n, out,
                                                        out + numEdges);
    TRKAAS_CUDA_LAUNCHED();
  }
  return numEdges;
}

EdgeList GridRadiusGraph::runOnDeviceFromHost(const float* points, std::int64_t n,
                                                 std::int64_t dim) const {
  checkRadiusGraphInput("GridRadiusGraph::runOnDeviceFromHost", points, n, dim);
  const cudaStream_t s = nullptr;
  const std::size_t count = static_cast<std::size_t>(n * dim);
  DeviceArray<float> devicePoints(count, s);
  if (count > 0) {
    TRKAAS_CUDA_CHECK(cudaMemcpyAsync(devicePoints.data(), points, count * sizeof(float),
                                      cudaMemcpyHostToDevice, s));
  }
  std::unique_ptr<DeviceArray<std::int64_t>> out;
  const std::int64_t numEdges = runOnDevice(
      devicePoints.data(), n, dim,
      [&](std::int64_t e) {
        out = std::make_unique<DeviceArray<std::int64_t>>(static_cast<std::size_t>(2 * e), s);
        return out->data();
      },
      Stream{});
  EdgeList edges;
  edges.src.resize(static_cast<std::size_t>(numEdges));
  edges.dst.resize(edges.src.size());
  if (numEdges > 0) {
    const std::size_t bytes = edges.src.size() * sizeof(std::int64_t);
    TRKAAS_CUDA_CHECK(
        cudaMemcpyAsync(edges.src.data(), out->data(), bytes, cudaMemcpyDeviceToHost, s));
    TRKAAS_CUDA_CHECK(cudaMemcpyAsync(edges.dst.data(), out->data() + numEdges, bytes,
                                      cudaMemcpyDeviceToHost, s));
  }
  TRKAAS_CUDA_CHECK(cudaStreamSynchronize(s));
  return edges;
}

}  // namespace trkaas::device
