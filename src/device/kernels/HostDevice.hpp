#pragma once
/// What lets one kernel body compile for both sides: the host (plain C++, run by the
/// `runOnHost` drivers and the tests) and the device (nvcc, run by the `__global__`
/// wrappers in the .cu files). The atomics are real atomics on the device and plain
/// updates on the host, where the drivers run one index at a time.

#include <cstdint>

#if defined(__CUDACC__)
#define TRKAAS_HOST_DEVICE __host__ __device__
#else
#define TRKAAS_HOST_DEVICE
#endif

namespace trkaas::device::detail {

/// *p = min(*p, v), atomically on the device.
TRKAAS_HOST_DEVICE inline void atomicMinInt64(std::int64_t* p, std::int64_t v) {
#if defined(__CUDA_ARCH__)
  atomicMin(reinterpret_cast<long long*>(p), static_cast<long long>(v));
#else
  if (v < *p) {
    *p = v;
  }
#endif
}

/// *p = max(*p, v), atomically on the device.
TRKAAS_HOST_DEVICE inline void atomicMaxUint64(std::uint64_t* p, std::uint64_t v) {
#if defined(__CUDA_ARCH__)
  atomicMax(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
#else
  if (v > *p) {
    *p = v;
  }
#endif
}

/// *p += v, atomically on the device (two's complement: the unsigned add is the signed one).
TRKAAS_HOST_DEVICE inline void atomicAddInt64(std::int64_t* p, std::int64_t v) {
#if defined(__CUDA_ARCH__)
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
#else
  *p += v;
#endif
}

/// A load that the device compiler may not keep in a register: other threads change the
/// value while this one reads it (union-find parents).
TRKAAS_HOST_DEVICE inline std::int64_t loadShared(const std::int64_t* p) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const volatile long long*>(p);
#else
  return *p;
#endif
}

/// A store that other threads see while they run (union-find parents).
TRKAAS_HOST_DEVICE inline void storeShared(std::int64_t* p, std::int64_t v) {
#if defined(__CUDA_ARCH__)
  *reinterpret_cast<volatile long long*>(p) = static_cast<long long>(v);
#else
  *p = v;
#endif
}

/// a * b and a + b rounded once each: nvcc would otherwise fuse them into one FMA, whose
/// different rounding would move pairs at exactly the radius across it, and the device
/// edges must equal the CPU builder's to the last bit.
TRKAAS_HOST_DEVICE inline double mulRn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
TRKAAS_HOST_DEVICE inline double addRn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

/// Whether a float is neither infinite nor NaN (x - x is NaN for both).
TRKAAS_HOST_DEVICE inline bool isFinite(float x) { return x - x == 0.0f; }

}  // namespace trkaas::device::detail
