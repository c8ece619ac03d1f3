#pragma once
/// The CUDA side of trkaas as seen from code that includes no CUDA header.
///
/// Every device operation is declared in a header of this folder with plain types only; a
/// build without CUDA (TRKAAS_ENABLE_CUDA off) links a CPU-only file whose device functions
/// throw trkaas::Error saying so, so callers need no #ifdef. The kernel bodies themselves
/// also run on the CPU through the `runOnHost` drivers, which is how they are tested.

namespace trkaas::device {

/// A CUDA stream passed through code that includes no CUDA header: `handle` is the
/// cudaStream_t; nullptr means the legacy default stream.
struct Stream {
  void* handle = nullptr;
};

/// Whether this build of trkaas has the CUDA kernels (configured with TRKAAS_ENABLE_CUDA).
bool deviceBuiltIn();

/// Number of CUDA devices this process can use: 0 in a build without CUDA, and where there
/// is no GPU or no driver (never throws).
int deviceCount();

}  // namespace trkaas::device
