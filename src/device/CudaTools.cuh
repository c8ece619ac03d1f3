#pragma once
/// CUDA helpers of the launchers (.cu files only): error checks that throw with file and
/// line, stream-ordered device arrays, and the launch shape of a one-index-per-thread step.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "trkaas/core/Error.hpp"
#include "trkaas/device/Device.hpp"

namespace trkaas::device::detail {

/// Throws trkaas::Error naming the failed call, its file and line, and CUDA's message.
inline void cudaCheck(cudaError_t status, const char* call, const char* file, int line) {
  if (status != cudaSuccess) {
    throw Error(std::string("CUDA error in ") + call + " at " + file + ":" + std::to_string(line) +
                ": " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
  }
}

#define TRKAAS_CUDA_CHECK(call) \
  ::trkaas::device::detail::cudaCheck((call), #call, __FILE__, __LINE__)

inline cudaStream_t toCuda(Stream stream) { return static_cast<cudaStream_t>(stream.handle); }

/// `count` elements of T in device memory, taken and given back in the order of `stream`
/// (cudaMallocAsync: the device's memory pool, no device-wide synchronisation).
template <class T>
class DeviceArray {
 public:
  DeviceArray(std::size_t count, cudaStream_t stream) : m_count(count), m_stream(stream) {
    if (count > 0) {
      TRKAAS_CUDA_CHECK(
          cudaMallocAsync(reinterpret_cast<void**>(&m_data), count * sizeof(T), stream));
    }
  }
  ~DeviceArray() {
    if (m_data != nullptr) {
      cudaFreeAsync(m_data, m_stream);  // no throw from a destructor
    }
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* data() const { return m_data; }
  std::size_t size() const { return m_count; }

 private:
  T* m_data = nullptr;
  std::size_t m_count;
  cudaStream_t m_stream;
};

/// Threads per block of the one-index-per-thread kernels.
constexpr int kBlock = 256;

/// Blocks for `count` indices (at least 1, so that a launch with count 0 is still valid).
inline unsigned int blocksFor(std::int64_t count) {
  return static_cast<unsigned int>(count > 0 ? (count + kBlock - 1) / kBlock : 1);
}

/// Index of this thread in a one-dimensional launch.
__device__ inline std::int64_t threadIndex() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

/// Throws on an error of the kernel launch just made (bad configuration); errors while the
/// kernel runs surface at the next synchronising call.
#define TRKAAS_CUDA_LAUNCHED() TRKAAS_CUDA_CHECK(cudaGetLastError())

}  // namespace trkaas::device::detail
