/// deviceBuiltIn and deviceCount of a build with CUDA.
#include <cuda_runtime.h>

#include "trkaas/device/Device.hpp"

namespace trkaas::device {

bool deviceBuiltIn() { return true; }

int deviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the error: no driver or no GPU means no device
    return 0;
  }
  return count;
}

}  // namespace trkaas::device
