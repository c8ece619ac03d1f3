/// GpuMonitor: NVML opened with dlopen (declarations of the few NVML types and functions it
/// uses are below, so no NVML header is needed), a sampling thread, the report line.
#include "trkaas/device/GpuMonitor.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "trkaas/core/Error.hpp"

namespace trkaas::device {

namespace {

// The NVML ABI as far as it is used here (nvml.h, stable since NVML 5 / CUDA 8).
using nvmlReturn_t = int;  // an enum in nvml.h; NVML_SUCCESS is 0
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
struct nvmlUtilization_t {  // NOLINT(readability-identifier-naming): nvml.h's name
  unsigned int gpu;         // percent of the last sample period in which a kernel ran
  unsigned int memory;      // percent of it in which device memory was read or written
};
struct nvmlMemory_t {  // NOLINT(readability-identifier-naming): nvml.h's name
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr unsigned kNvmlNameBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned kNvmlUuidBufferSize = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE
constexpr double kBytesPerMiB = 1024.0 * 1024.0;
constexpr const char* kDefaultLibraries[] = {"libnvidia-ml.so.1", "libnvidia-ml.so"};

/// The NVML functions, resolved from a dlopen'ed library; closes it (after nvmlShutdown
/// when initialised) on destruction.
struct Nvml {
  void* handle = nullptr;
  std::string library;
  bool initialised = false;

  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*getCount)(unsigned int*) = nullptr;
  nvmlReturn_t (*getHandleByIndex)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*getUtilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*getMemory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*getName)(nvmlDevice_t, char*, unsigned int) = nullptr;
  const char* (*errorString)(nvmlReturn_t) = nullptr;
  // Optional: only for CUDA_VISIBLE_DEVICES holding UUIDs.
  nvmlReturn_t (*getHandleByUuid)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*getUuid)(nvmlDevice_t, char*, unsigned int) = nullptr;

  Nvml() = default;
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;
  ~Nvml() { close(); }

  /// Opens the library and resolves the functions; returns the reason on failure.
  std::string open(const std::string& requested) {
    if (requested.empty()) {
      for (const char* name : kDefaultLibraries) {
        handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (handle != nullptr) {
          library = name;
          break;
        }
      }
      if (handle == nullptr) {
        return std::string("no NVML library (") + kDefaultLibraries[0] +
               "): no GPU driver on this node";
      }
    } else {
      handle = ::dlopen(requested.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        const char* why = ::dlerror();
        return "no NVML library (" + requested + "): " + (why != nullptr ? why : "dlopen failed");
      }
      library = requested;
    }
    std::string missing;
    const auto need = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(handle, name));
      if (fn == nullptr && missing.empty()) {
        missing = name;
      }
    };
    need(init, "nvmlInit_v2");
    need(shutdown, "nvmlShutdown");
    need(getCount, "nvmlDeviceGetCount_v2");
    need(getHandleByIndex, "nvmlDeviceGetHandleByIndex_v2");
    need(getUtilization, "nvmlDeviceGetUtilizationRates");
    need(getMemory, "nvmlDeviceGetMemoryInfo");
    need(getName, "nvmlDeviceGetName");
    need(errorString, "nvmlErrorString");
    if (!missing.empty()) {
      return "NVML library " + library + " has no " + missing + " (driver too old?)";
    }
    getHandleByUuid =
        reinterpret_cast<decltype(getHandleByUuid)>(::dlsym(handle, "nvmlDeviceGetHandleByUUID"));
    getUuid = reinterpret_cast<decltype(getUuid)>(::dlsym(handle, "nvmlDeviceGetUUID"));
    const nvmlReturn_t rc = init();
    if (rc != kNvmlSuccess) {
      return failed("nvmlInit_v2", rc);
    }
    initialised = true;
    return {};
  }

  void close() {
    if (initialised) {
      shutdown();
      initialised = false;
    }
    if (handle != nullptr) {
      ::dlclose(handle);
      handle = nullptr;
    }
  }

  /// "<function> failed: <NVML's message>".
  std::string failed(const char* function, nvmlReturn_t rc) const {
    const char* text = errorString != nullptr ? errorString(rc) : nullptr;
    return std::string(function) +
           " failed: " + (text != nullptr ? std::string(text) : "NVML error " + std::to_string(rc));
  }
};

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) {
    return {};
  }
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

bool isUuidEntry(const std::string& entry) {
  return entry.rfind("GPU-", 0) == 0 || entry.rfind("MIG-", 0) == 0;
}

/// Leading digits of `entry` as CUDA reads them (strtoul-like, optional '+'); -1 if none or
/// too large.
long long leadingIndex(const std::string& entry) {
  std::size_t i = (!entry.empty() && entry[0] == '+') ? 1 : 0;
  long long value = -1;
  for (; i < entry.size() && entry[i] >= '0' && entry[i] <= '9'; ++i) {
    value = (value < 0 ? 0 : value) * 10 + (entry[i] - '0');
    if (value > 1000000) {
      return -1;
    }
  }
  return value;
}

std::string withThousands(long long value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  for (int pos = static_cast<int>(digits.size()) - 3; pos > 0; pos -= 3) {
    digits.insert(static_cast<std::size_t>(pos), ",");
  }
  return (value < 0 ? "-" : "") + digits;
}

}  // namespace

NvmlDeviceSelector selectNvmlDevice(int cudaDevice, const char* cudaVisibleDevices) {
  NvmlDeviceSelector selector;
  if (cudaDevice < 0) {
    selector.error = "CUDA device index must be >= 0, got " + std::to_string(cudaDevice);
    return selector;
  }
  if (cudaVisibleDevices == nullptr) {
    selector.nvmlIndex = static_cast<unsigned>(cudaDevice);
    return selector;
  }
  const std::string value = cudaVisibleDevices;
  const std::string where = "CUDA_VISIBLE_DEVICES=\"" + value + "\"";
  std::vector<std::string> entries;
  for (std::size_t begin = 0;;) {
    const std::size_t comma = value.find(',', begin);
    entries.push_back(trim(value.substr(begin, comma - begin)));
    if (comma == std::string::npos) {
      break;
    }
    begin = comma + 1;
  }
  const bool uuids = isUuidEntry(entries.front());
  std::vector<std::string> visible;  // UUIDs, or indices as decimal strings
  for (const std::string& entry : entries) {
    std::string key;
    if (uuids) {
      if (!isUuidEntry(entry)) {
        break;
      }
      key = entry;
    } else {
      const long long index = leadingIndex(entry);
      if (index < 0) {
        break;
      }
      key = std::to_string(index);
    }
    if (std::find(visible.begin(), visible.end(), key) != visible.end()) {
      selector.error = where;
      selector.error += " names " + key + " twice, so CUDA sees no device";
      return selector;
    }
    visible.push_back(key);
  }
  if (visible.empty()) {
    selector.error = where + " leaves no device visible to CUDA";
    return selector;
  }
  if (static_cast<std::size_t>(cudaDevice) >= visible.size()) {
    selector.error = "CUDA device " + std::to_string(cudaDevice) + " is not visible: " + where +
                     " makes " + std::to_string(visible.size()) + " device" +
                     (visible.size() == 1 ? "" : "s") + " visible";
    return selector;
  }
  const std::string& chosen = visible[static_cast<std::size_t>(cudaDevice)];
  if (uuids) {
    selector.uuid = chosen;
  } else {
    selector.nvmlIndex = static_cast<unsigned>(std::stoul(chosen));
  }
  return selector;
}

struct GpuMonitor::State {
  // Touched by start()/stop() and, between them, by the sampling thread only.
  Nvml nvml;
  nvmlDevice_t device = nullptr;
  std::thread thread;
  std::mutex lifecycle;  // start() and stop()
  bool started = false;

  // Shared with summary() and the sampling thread.
  std::mutex mutex;
  std::condition_variable wake;
  bool stopRequested = false;
  Summary summary;
  double busyPercentSum = 0.0;

  void fail(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex);
    summary.available = false;
    summary.reason = reason;
  }

  /// Finds the device, reads its name and memory; returns the reason on failure.
  std::string openDevice(int cudaDevice) {
    const char* env = std::getenv("CUDA_VISIBLE_DEVICES");
    const NvmlDeviceSelector selector = selectNvmlDevice(cudaDevice, env);
    if (!selector.ok()) {
      return selector.error;
    }
    unsigned count = 0;
    nvmlReturn_t rc = nvml.getCount(&count);
    if (rc != kNvmlSuccess) {
      return nvml.failed("nvmlDeviceGetCount_v2", rc);
    }
    const std::string where =
        env != nullptr ? " (CUDA_VISIBLE_DEVICES=\"" + std::string(env) + "\")" : "";
    if (selector.byUuid()) {
      std::string found = findByUuid(selector.uuid, count);
      if (!found.empty()) {
        return found + where;
      }
    } else {
      if (selector.nvmlIndex >= count) {
        return "CUDA device " + std::to_string(cudaDevice) + " is NVML device " +
               std::to_string(selector.nvmlIndex) + where + ", but NVML sees " +
               std::to_string(count) + " device" + (count == 1 ? "" : "s");
      }
      rc = nvml.getHandleByIndex(selector.nvmlIndex, &device);
      if (rc != kNvmlSuccess) {
        return nvml.failed("nvmlDeviceGetHandleByIndex_v2", rc);
      }
    }
    char name[kNvmlNameBufferSize] = {};
    rc = nvml.getName(device, name, kNvmlNameBufferSize);
    if (rc != kNvmlSuccess) {
      return nvml.failed("nvmlDeviceGetName", rc);
    }
    nvmlMemory_t memory{};
    rc = nvml.getMemory(device, &memory);
    if (rc != kNvmlSuccess) {
      return nvml.failed("nvmlDeviceGetMemoryInfo", rc);
    }
    // A first utilisation read shows whether the device reports it at all (MIG devices do
    // not); it covers the time before start(), so it does not count as a sample.
    nvmlUtilization_t utilisation{};
    rc = nvml.getUtilization(device, &utilisation);
    if (rc != kNvmlSuccess) {
      return nvml.failed("nvmlDeviceGetUtilizationRates", rc);
    }
    std::lock_guard<std::mutex> lock(mutex);
    summary.deviceName = name;
    summary.totalMemoryMiB = static_cast<double>(memory.total) / kBytesPerMiB;
    summary.peakMemoryUsedMiB = static_cast<double>(memory.used) / kBytesPerMiB;
    return {};
  }

  /// Sets `device` from a UUID or its first characters: NVML's own lookup for a whole UUID,
  /// else the one device whose UUID starts with it. Returns the reason on failure.
  std::string findByUuid(const std::string& uuid, unsigned count) {
    if (nvml.getHandleByUuid != nullptr &&
        nvml.getHandleByUuid(uuid.c_str(), &device) == kNvmlSuccess) {
      return {};
    }
    if (nvml.getUuid == nullptr) {
      return "NVML library " + nvml.library + " cannot look up device " + uuid +
             " (no nvmlDeviceGetUUID)";
    }
    int matches = 0;
    for (unsigned i = 0; i < count; ++i) {
      nvmlDevice_t candidate = nullptr;
      char text[kNvmlUuidBufferSize] = {};
      nvmlReturn_t rc = nvml.getHandleByIndex(i, &candidate);
      if (rc == kNvmlSuccess) {
        rc = nvml.getUuid(candidate, text, kNvmlUuidBufferSize);
      }
      if (rc != kNvmlSuccess) {
        return nvml.failed("nvmlDeviceGetUUID", rc);
      }
      if (std::string(text).rfind(uuid, 0) == 0) {
        device = candidate;
        ++matches;
      }
    }
    if (matches == 1) {
      return {};
    }
    device = nullptr;
    return matches == 0
               ? "no NVML device has UUID " + uuid
               : std::to_string(matches) + " NVML devices have UUIDs starting with " + uuid;
  }

  /// The sampling thread: one sample every interval until stop or an NVML failure.
  void sampleLoop(double intervalSeconds) noexcept {
    try {
      const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(intervalSeconds));
      auto next = std::chrono::steady_clock::now();
      std::unique_lock<std::mutex> lock(mutex);
      for (;;) {
        next += interval;
        if (wake.wait_until(lock, next, [this] { return stopRequested; })) {
          return;
        }
        lock.unlock();
        nvmlUtilization_t utilisation{};
        nvmlMemory_t memory{};
        std::string reason;
        nvmlReturn_t rc = nvml.getUtilization(device, &utilisation);
        if (rc != kNvmlSuccess) {
          reason = nvml.failed("nvmlDeviceGetUtilizationRates", rc);
        } else if ((rc = nvml.getMemory(device, &memory)) != kNvmlSuccess) {
          reason = nvml.failed("nvmlDeviceGetMemoryInfo", rc);
        }
        lock.lock();
        if (!reason.empty()) {
          summary.available = false;
          summary.reason = reason + " after " + std::to_string(summary.samples) + " samples";
          return;
        }
        ++summary.samples;
        busyPercentSum += std::min(utilisation.gpu, 100u);
        summary.busyFraction = busyPercentSum / 100.0 / static_cast<double>(summary.samples);
        summary.peakMemoryUsedMiB =
            std::max(summary.peakMemoryUsedMiB, static_cast<double>(memory.used) / kBytesPerMiB);
        // Sampling late (a suspended process) does not make a burst of catch-up samples.
        next = std::max(next, std::chrono::steady_clock::now());
      }
    } catch (const std::exception& e) {
      fail(std::string("GPU sampling stopped: ") + e.what());
    } catch (...) {
      fail("GPU sampling stopped by an unknown error");
    }
  }
};

GpuMonitor::GpuMonitor(Config config) : m_config(std::move(config)), m_state(new State) {
  if (m_config.device < 0) {
    throw Error("GpuMonitor: device must be a CUDA device index >= 0, got " +
                std::to_string(m_config.device));
  }
  if (!std::isfinite(m_config.intervalSeconds) || m_config.intervalSeconds <= 0.0 ||
      m_config.intervalSeconds > 3600.0) {
    throw Error("GpuMonitor: intervalSeconds must be > 0 and <= 3600, got " +
                std::to_string(m_config.intervalSeconds));
  }
  m_state->summary.reason = "GPU monitor not started";
}

GpuMonitor::~GpuMonitor() { stop(); }

void GpuMonitor::start() {
  State& s = *m_state;
  std::lock_guard<std::mutex> lifecycle(s.lifecycle);
  if (s.started) {
    throw Error("GpuMonitor::start called twice (a monitor samples one run)");
  }
  s.started = true;
  std::string reason;
  try {
    reason = s.nvml.open(m_config.library);
    if (reason.empty()) {
      reason = s.openDevice(m_config.device);
    }
    if (reason.empty()) {
      {
        std::lock_guard<std::mutex> lock(s.mutex);
        s.summary.available = true;
        s.summary.reason.clear();
      }
      s.thread = std::thread([&s, interval = m_config.intervalSeconds] { s.sampleLoop(interval); });
      return;
    }
  } catch (const std::exception& e) {  // e.g. no thread could be started
    reason = std::string("GPU monitor could not start: ") + e.what();
  }
  s.fail(reason);
  s.nvml.close();
}

void GpuMonitor::stop() {
  State& s = *m_state;
  std::lock_guard<std::mutex> lifecycle(s.lifecycle);
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.stopRequested = true;
  }
  s.wake.notify_all();
  if (s.thread.joinable()) {
    s.thread.join();
  }
  s.nvml.close();
}

GpuMonitor::Summary GpuMonitor::summary() const {
  std::lock_guard<std::mutex> lock(m_state->mutex);
  return m_state->summary;
}

std::string GpuMonitor::describe(const Summary& summary) {
  if (!summary.available) {
    return summary.reason.empty() ? "n/a" : "n/a (" + summary.reason + ")";
  }
  std::string busy = "busy n/a (no sample yet)";
  if (summary.samples > 0) {
    char percent[32];
    std::snprintf(percent, sizeof percent, "%.1f%%", 100.0 * summary.busyFraction);
    busy = std::string("busy ") + percent;
  }
  return busy + ", peak memory " + withThousands(std::llround(summary.peakMemoryUsedMiB)) + " of " +
         withThousands(std::llround(summary.totalMemoryMiB)) + " MiB (" + summary.deviceName + ")";
}

}  // namespace trkaas::device
