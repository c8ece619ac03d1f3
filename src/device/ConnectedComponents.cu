/// ConnectedComponents' device launcher: the `__global__` wrappers of the kernel bodies in
/// kernels/ComponentKernels.hpp, cub for the scan. Compiled with nvcc for sm_80/sm_90; see
/// src/device/README.md for what has run on a GPU.
#include <cuda_runtime.h>

#include <cub/device/device_scan.cuh>
#include <vector>

#include "ComponentChecks.hpp"
#include "CubCall.cuh"
#include "CudaTools.cuh"
#include "kernels/ComponentKernels.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/device/ConnectedComponents.hpp"

namespace trkaas::device {

namespace {

using namespace detail;

__global__ void checkEdgeKernel(std::int64_t numEdges, std::int64_t numHits,
                                const std::int64_t* src, const std::int64_t* dst,
                                const float* scores, std::int64_t* firstBad) {
  const std::int64_t e = threadIndex();
  if (e < numEdges) {
    checkEdge(e, numHits, src, dst, scores, firstBad);
  }
}

__global__ void junctionBestKernel(std::int64_t numEdges, const std::int64_t* src,
                                   const std::int64_t* dst, const float* scores,
                                   std::uint64_t* bestOut, std::uint64_t* bestIn) {
  const std::int64_t e = threadIndex();
  if (e < numEdges) {
    junctionBest(e, src, dst, scores, bestOut, bestIn);
  }
}

__global__ void junctionKeepKernel(std::int64_t numEdges, const std::int64_t* src,
                                   const std::int64_t* dst, const float* scores,
                                   const std::uint64_t* bestOut, const std::uint64_t* bestIn,
                                   std::uint8_t* keep) {
  const std::int64_t e = threadIndex();
  if (e < numEdges) {
    junctionKeep(e, src, dst, scores, bestOut, bestIn, keep);
  }
}

__global__ void initParentKernel(std::int64_t numHits, std::int64_t* parent) {
  const std::int64_t v = threadIndex();
  if (v < numHits) {
    initParent(v, parent);
  }
}

__global__ void hookKernel(std::int64_t numEdges, const std::int64_t* src, const std::int64_t* dst,
                           const std::uint8_t* keep, std::int64_t* parent, int* changed) {
  const std::int64_t e = threadIndex();
  if (e < numEdges) {
    hookEdge(e, src, dst, keep, parent, changed);
  }
}

__global__ void compressKernel(std::int64_t numHits, std::int64_t* parent) {
  const std::int64_t v = threadIndex();
  if (v < numHits) {
    compress(v, parent);
  }
}

__global__ void countSizeKernel(std::int64_t numHits, const std::int64_t* parent,
                                std::int64_t* size) {
  const std::int64_t v = threadIndex();
  if (v < numHits) {
    countSize(v, parent, size);
  }
}

__global__ void markTrackRootKernel(std::int64_t numHits, const std::int64_t* parent,
                                    const std::int64_t* size, std::int64_t minTrackSize,
                                    std::int64_t* mark) {
  const std::int64_t v = threadIndex();
  if (v < numHits) {
    markTrackRoot(v, parent, size, minTrackSize, mark);
  }
}

__global__ void writeLabelKernel(std::int64_t numHits, const std::int64_t* parent,
                                 const std::int64_t* size, std::int64_t minTrackSize,
                                 const std::int64_t* trackBefore, std::int64_t* labels) {
  const std::int64_t v = threadIndex();
  if (v < numHits) {
    writeLabel(v, parent, size, minTrackSize, trackBefore, labels);
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

void ConnectedComponents::runOnDevice(std::int64_t numHits, const std::int64_t* src,
                                      const std::int64_t* dst, std::int64_t numEdges,
                                      const float* scores, std::int64_t* labels,
                                      Stream stream) const {
  checkComponentInput(numHits, src, dst, numEdges, scores, m_config.junctionRemoval);
  if (numHits > 0 && labels == nullptr) {
    throw Error("ConnectedComponents::runOnDevice: labels is null for " + std::to_string(numHits) +
                " hits");
  }
  const cudaStream_t s = toCuda(stream);
  const std::size_t hits = static_cast<std::size_t>(numHits);
  const std::size_t edges = static_cast<std::size_t>(numEdges);
  const unsigned int edgeBlocks = blocksFor(numEdges);
  const unsigned int hitBlocks = blocksFor(numHits);

  // 1. Input check (first synchronisation).
  if (numEdges > 0) {
    DeviceArray<std::int64_t> firstBad(1, s);
    TRKAAS_CUDA_CHECK(
        cudaMemcpyAsync(firstBad.data(), &numEdges, sizeof numEdges, cudaMemcpyHostToDevice, s));
    checkEdgeKernel<<<edgeBlocks, kBlock, 0, s>>>(numEdges, numHits, src, dst, scores,
                                                  firstBad.data());
    TRKAAS_CUDA_LAUNCHED();
    const std::int64_t bad = fetch(firstBad.data(), s);
    if (bad < numEdges) {
      throwBadEdge(bad, numHits, fetch(src + bad, s), fetch(dst + bad, s));
    }
  }
  if (numHits == 0) {
    return;
  }

  // 2. Junction removal.
  DeviceArray<std::uint8_t> keep(m_config.junctionRemoval ? edges : 0, s);
  if (m_config.junctionRemoval && numEdges > 0) {
    DeviceArray<std::uint64_t> bestOut(hits, s), bestIn(hits, s);
    TRKAAS_CUDA_CHECK(cudaMemsetAsync(bestOut.data(), 0, hits * sizeof(std::uint64_t), s));
    TRKAAS_CUDA_CHECK(cudaMemsetAsync(bestIn.data(), 0, hits * sizeof(std::uint64_t), s));
    junctionBestKernel<<<edgeBlocks, kBlock, 0, s>>>(numEdges, src, dst, scores, bestOut.data(),
                                                     bestIn.data());
    TRKAAS_CUDA_LAUNCHED();
    junctionKeepKernel<<<edgeBlocks, kBlock, 0, s>>>(numEdges, src, dst, scores, bestOut.data(),
                                                     bestIn.data(), keep.data());
    TRKAAS_CUDA_LAUNCHED();
  }
  const std::uint8_t* kept = m_config.junctionRemoval ? keep.data() : nullptr;

  // 3. Hooking and pointer jumping until a round links nothing (one synchronisation each).
  DeviceArray<std::int64_t> parent(hits, s);
  DeviceArray<int> changed(1, s);
  initParentKernel<<<hitBlocks, kBlock, 0, s>>>(numHits, parent.data());
  TRKAAS_CUDA_LAUNCHED();
  for (int more = numEdges > 0 ? 1 : 0; more != 0;) {
    TRKAAS_CUDA_CHECK(cudaMemsetAsync(changed.data(), 0, sizeof(int), s));
    hookKernel<<<edgeBlocks, kBlock, 0, s>>>(numEdges, src, dst, kept, parent.data(),
                                             changed.data());
    TRKAAS_CUDA_LAUNCHED();
    compressKernel<<<hitBlocks, kBlock, 0, s>>>(numHits, parent.data());
    TRKAAS_CUDA_LAUNCHED();
    more = fetch(changed.data(), s);
  }

  // 4. Sizes, track roots, labels.
  const std::int64_t minSize = m_config.minTrackSize;
  DeviceArray<std::int64_t> size(hits, s), mark(hits, s), before(hits, s);
  TRKAAS_CUDA_CHECK(cudaMemsetAsync(size.data(), 0, hits * sizeof(std::int64_t), s));
  countSizeKernel<<<hitBlocks, kBlock, 0, s>>>(numHits, parent.data(), size.data());
  TRKAAS_CUDA_LAUNCHED();
  markTrackRootKernel<<<hitBlocks, kBlock, 0, s>>>(numHits, parent.data(), size.data(), minSize,
                                                   mark.data());
  TRKAAS_CUDA_LAUNCHED();
  runCub(
      "cub::DeviceScan::ExclusiveSum (track roots)",
      [&](void* temp, std::size_t& bytes) {
        return cub::DeviceScan::ExclusiveSum(temp, bytes, mark.data(), before.data(), numHits, s);
      },
      s);
  writeLabelKernel<<<hitBlocks, kBlock, 0, s>>>(numHits, parent.data(), size.data(), minSize,
                                                before.data(), labels);
  TRKAAS_CUDA_LAUNCHED();
}

std::vector<std::int64_t> ConnectedComponents::runOnDeviceFromHost(std::int64_t numHits,
                                                                   const std::int64_t* src,
                                                                   const std::int64_t* dst,
                                                                   std::int64_t numEdges,
                                                                   const float* scores) const {
  checkComponentInput(numHits, src, dst, numEdges, scores, m_config.junctionRemoval);
  const cudaStream_t s = nullptr;
  const std::size_t edges = static_cast<std::size_t>(numEdges);
  DeviceArray<std::int64_t> deviceSrc(edges, s), deviceDst(edges, s);
  DeviceArray<float> deviceScores(scores != nullptr ? edges : 0, s);
  DeviceArray<std::int64_t> deviceLabels(static_cast<std::size_t>(numHits), s);
  if (edges > 0) {
    TRKAAS_CUDA_CHECK(cudaMemcpyAsync(deviceSrc.data(), src, edges * sizeof(std::int64_t),
                                      cudaMemcpyHostToDevice, s));
    TRKAAS_CUDA_CHECK(cudaMemcpyAsync(deviceDst.data(), dst, edges * sizeof(std::int64_t),
                                      cudaMemcpyHostToDevice, s));
    if (scores != nullptr) {
      TRKAAS_CUDA_CHECK(cudaMemcpyAsync(deviceScores.data(), scores, edges * sizeof(float),
                                        cudaMemcpyHostToDevice, s));
    }
  }
  runOnDevice(numHits, deviceSrc.data(), deviceDst.data(), numEdges,
              scores != nullptr ? deviceScores.data() : nullptr, deviceLabels.data(), Stream{});
  std::vector<std::int64_t> labels(static_cast<std::size_t>(numHits));
  if (numHits > 0) {
    TRKAAS_CUDA_CHECK(cudaMemcpyAsync(labels.data(), deviceLabels.data(),
                                      labels.size() * sizeof(std::int64_t), cudaMemcpyDeviceToHost,
                                      s));
  }
  TRKAAS_CUDA_CHECK(cudaStreamSynchronize(s));
  return labels;
}

}  // namespace trkaas::device
