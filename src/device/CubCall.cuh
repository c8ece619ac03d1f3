#pragma once
/// cub's two-call pattern for the launchers: ask for the temporary storage, take it from
/// the stream's pool, run.

#include <cuda_runtime.h>

#include <cstddef>

#include "CudaTools.cuh"

namespace trkaas::device::detail {

/// call(void* temp, std::size_t& bytes) is a cub device-wide call on `stream`.
template <class Call>
void runCub(const char* what, const Call& call, cudaStream_t stream) {
  std::size_t bytes = 0;
  cudaCheck(call(nullptr, bytes), what, __FILE__, __LINE__);
  // At least one byte: a null temp pointer would make cub only report the size again.
  DeviceArray<unsigned char> temp(bytes > 0 ? bytes : 1, stream);
  cudaCheck(call(temp.data(), bytes), what, __FILE__, __LINE__);
}

}  // namespace trkaas::device::detail
