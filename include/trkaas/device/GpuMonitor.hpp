#pragma once
/// How busy one GPU is and how much of its memory is used while the service runs, for the
/// service report; "n/a" with the reason where there is no GPU.
///
/// Reads NVML (the driver's management library, libnvidia-ml.so.1), opened at run time with
/// dlopen: trkaas needs no NVML header or library to build, and a node without a GPU driver
/// only loses this line of the report. A thread samples the GPU's utilisation (the share of
/// time in which a kernel was running, as nvidia-smi shows it) and its used memory every
/// `intervalSeconds` from start() until stop(). Sampling never throws: any NVML failure
/// ends the sampling and turns the summary into "not available" with the reason.
///
/// The GPU is named by its CUDA device index, which counts only the devices CUDA can see
/// (CUDA_VISIBLE_DEVICES); NVML counts every device of the node. See selectNvmlDevice for the
/// mapping.

#include <cstdint>
#include <memory>
#include <string>

namespace trkaas::device {

/// The NVML device that a CUDA device index names, worked out from CUDA_VISIBLE_DEVICES.
struct NvmlDeviceSelector {
  /// NVML index of the device (when `uuid` and `error` are empty).
  unsigned nvmlIndex = 0;
  /// UUID or leading part of one ("GPU-..." or "MIG-..."), to be looked up in NVML by UUID.
  std::string uuid;
  /// Why no device can be named (the index is not visible to CUDA); empty when one can.
  std::string error;

  bool ok() const { return error.empty(); }
  bool byUuid() const { return ok() && !uuid.empty(); }
};

/// Which NVML device is CUDA device `cudaDevice`, given the value of CUDA_VISIBLE_DEVICES
/// (nullptr: not set). It reads the variable as CUDA does:
/// - not set: every device is visible in NVML's order, CUDA device i is NVML device i (this
///   assumes CUDA orders devices as NVML does, by PCI bus id: true with
///   CUDA_DEVICE_ORDER=PCI_BUS_ID and on nodes of identical GPUs);
/// - a comma-separated list: CUDA device i is the list's entry i. Numbers are NVML indices
///   (read like strtoul: leading digits, so "1a" is 1); entries starting with "GPU-" or
///   "MIG-" are UUIDs or their first characters (the list's first entry decides which kind
///   the list holds). The first entry that is not of that kind ("-1", "abc", "") ends the
///   list; a repeated entry, or an empty value, leaves no device visible.
/// Never throws; an index that the list does not reach gives `error`.
NvmlDeviceSelector selectNvmlDevice(int cudaDevice, const char* cudaVisibleDevices);

class GpuMonitor {
 public:
  struct Config {
    /// CUDA device index of the GPU to watch (>= 0), as the server passes it to CUDA.
    int device = 0;
    /// Seconds between two samples (> 0 and at most 3600). NVML's own utilisation value
    /// covers its last sample period (1/6 s to 1 s depending on the GPU).
    double intervalSeconds = 0.5;
    /// NVML library to open; empty: libnvidia-ml.so.1, then libnvidia-ml.so. Tests set a
    /// stand-in library here.
    std::string library;
  };

  /// What the monitor has seen since start().
  struct Summary {
    /// Whether NVML is there and every call to it has worked so far.
    bool available = false;
    /// Why not, when not available (no library, no driver, no such device, an NVML error).
    std::string reason;
    /// Device name as NVML gives it ("NVIDIA H100 80GB HBM3"), once known.
    std::string deviceName;
    /// Utilisation samples taken.
    std::int64_t samples = 0;
    /// Mean of the sampled utilisations, 0 to 1: the share of time the GPU ran a kernel.
    double busyFraction = 0.0;
    /// Highest device memory in use seen (MiB, all processes on the GPU, as nvidia-smi).
    double peakMemoryUsedMiB = 0.0;
    /// Device memory (MiB).
    double totalMemoryMiB = 0.0;
  };

  /// Validates the configuration; throws trkaas::Error with the offending value. Opens
  /// nothing yet.
  explicit GpuMonitor(Config config);
  /// Stops sampling (as stop()).
  ~GpuMonitor();
  GpuMonitor(const GpuMonitor&) = delete;
  GpuMonitor& operator=(const GpuMonitor&) = delete;

  /// Opens NVML, finds the device, reads its name and memory, then starts the sampling
  /// thread. Where NVML or the device is missing it only records the reason (no thread, no
  /// exception). Throws trkaas::Error only when called a second time.
  void start();

  /// Stops the sampling thread and closes NVML; the summary keeps what was seen. Safe to
  /// call more than once, and without start().
  void stop();

  /// What has been seen so far; callable from any thread, also while sampling.
  Summary summary() const;

  /// One line for the service report: "busy 93.1%, peak memory 12,345 of 81,559 MiB (NVIDIA
  /// H100 80GB HBM3)", or "n/a (reason)" when not available.
  static std::string describe(const Summary& summary);

  const Config& config() const { return m_config; }

 private:
  struct State;
  Config m_config;
  std::unique_ptr<State> m_state;
};

}  // namespace trkaas::device
