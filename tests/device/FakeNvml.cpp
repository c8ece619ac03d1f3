// A stand-in for libnvidia-ml.so.1, for the GpuMonitor tests on machines without a GPU
// driver: the NVML functions GpuMonitor uses, over a few made-up devices whose usage the
// test sets, and failures it can inject. Loaded with dlopen, as the real library is; the
// test reaches the fakeNvml* controls through dlsym on the same handle.
//
// Device i: name "Fake GPU i", UUID "GPU-a<i>000000-0000-4000-8000-00000000000<i>",
// (16 + 8 i) GiB of memory. nvmlDeviceGetHandleByUUID takes whole UUIDs only (leading
// parts go through GpuMonitor's own comparison of nvmlDeviceGetUUID).
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

constexpr int kUninitialised = 1;  // NVML_ERROR_UNINITIALIZED
constexpr int kInvalidArgument = 2;
constexpr int kNotFound = 6;
constexpr int kInsufficientSize = 7;

struct Device {
  std::string name, uuid;
  unsigned long long total = 0, used = 0;
  unsigned busy = 0;
};

struct Failure {
  int afterCalls = 0;
  int code = 0;
};

struct State {
  std::mutex mutex;
  std::vector<Device> devices;
  std::map<std::string, Failure> failures;
  std::map<std::string, int> calls;
  int sessions = 0;  // nvmlInit_v2 minus nvmlShutdown

  State() { reset(2); }

  void reset(unsigned count) {
    devices.clear();
    for (unsigned i = 0; i < count; ++i) {
      Device d;
      d.name = "Fake GPU " + std::to_string(i);
      d.uuid =
          "GPU-a" + std::to_string(i) + "000000-0000-4000-8000-00000000000" + std::to_string(i);
      d.total = (16ull + 8ull * i) << 30;
      devices.push_back(d);
    }
    failures.clear();
    calls.clear();
    sessions = 0;
  }

  /// The injected error of `function` for this call, or 0.
  int enter(const char* function) {
    const int n = calls[function]++;
    const auto f = failures.find(function);
    return (f != failures.end() && n >= f->second.afterCalls) ? f->second.code : 0;
  }

  Device* device(void* handle) {
    for (Device& d : devices) {
      if (&d == handle) {
        return &d;
      }
    }
    return nullptr;
  }
};

State& state() {
  static State s;
  return s;
}

int copyOut(const std::string& text, char* out, unsigned length) {
  if (out == nullptr || length <= text.size()) {
    return kInsufficientSize;
  }
  std::memcpy(out, text.c_str(), text.size() + 1);
  return 0;
}

/// Runs one NVML call under the lock, unless an error is injected for it.
template <class Body>
int call(const char* function, Body body) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  const int injected = s.enter(function);
  return injected != 0 ? injected : body(s);
}

}  // namespace

// NVML's own function names below (nvmlInit_v2, ...).
// NOLINTBEGIN(readability-identifier-naming)
extern "C" {

struct FakeUtilization {
  unsigned gpu, memory;
};
struct FakeMemory {
  unsigned long long total, free, used;
};

// ---- controls for the tests ----

/// Forgets everything: `count` devices, idle, nothing used, no failures, no sessions.
void fakeNvmlReset(unsigned count) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().reset(count);
}

/// What device `index` reports from now on.
void fakeNvmlSetUsage(unsigned index, unsigned busyPercent, unsigned long long usedBytes) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().devices.at(index).busy = busyPercent;
  state().devices.at(index).used = usedBytes;
}

/// `function` returns `code` once it has been called `afterCalls` times.
void fakeNvmlFail(const char* function, int afterCalls, int code) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().failures[function] = {afterCalls, code};
}

/// nvmlInit_v2 calls not matched by nvmlShutdown.
int fakeNvmlSessions() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().sessions;
}

// ---- NVML ----

int nvmlInit_v2() {
  return call("nvmlInit_v2", [&](State& s) {
    ++s.sessions;
    return 0;
  });
}

int nvmlShutdown() {
  return call("nvmlShutdown", [&](State& s) {
    if (s.sessions == 0) {
      return kUninitialised;
    }
    --s.sessions;
    return 0;
  });
}

int nvmlDeviceGetCount_v2(unsigned* count) {
  return call("nvmlDeviceGetCount_v2", [&](State& s) {
    if (s.sessions == 0) {
      return kUninitialised;
    }
    *count = static_cast<unsigned>(s.devices.size());
    return 0;
  });
}

int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** handle) {
  return call("nvmlDeviceGetHandleByIndex_v2", [&](State& s) {
    if (s.sessions == 0) {
      return kUninitialised;
    }
    if (index >= s.devices.size()) {
      return kInvalidArgument;
    }
    *handle = &s.devices[index];
    return 0;
  });
}

int nvmlDeviceGetHandleByUUID(const char* uuid, void** handle) {
  return call("nvmlDeviceGetHandleByUUID", [&](State& s) {
    if (s.sessions == 0) {
      return kUninitialised;
    }
    for (Device& d : s.devices) {
      if (d.uuid == uuid) {
        *handle = &d;
        return 0;
      }
    }
    return kNotFound;
  });
}

int nvmlDeviceGetUUID(void* handle, char* uuid, unsigned length) {
  return call("nvmlDeviceGetUUID", [&](State& s) {
    const Device* d = s.device(handle);
    return d == nullptr ? kInvalidArgument : copyOut(d->uuid, uuid, length);
  });
}

int nvmlDeviceGetName(void* handle, char* name, unsigned length) {
  return call("nvmlDeviceGetName", [&](State& s) {
    const Device* d = s.device(handle);
    return d == nullptr ? kInvalidArgument : copyOut(d->name, name, length);
  });
}

int nvmlDeviceGetUtilizationRates(void* handle, FakeUtilization* utilization) {
  return call("nvmlDeviceGetUtilizationRates", [&](State& s) {
    const Device* d = s.device(handle);
    if (d == nullptr || s.sessions == 0) {
      return kInvalidArgument;
    }
    utilization->gpu = d->busy;
    utilization->memory = d->busy / 2;
    return 0;
  });
}

int nvmlDeviceGetMemoryInfo(void* handle, FakeMemory* memory) {
  return call("nvmlDeviceGetMemoryInfo", [&](State& s) {
    const Device* d = s.device(handle);
    if (d == nullptr || s.sessions == 0) {
      return kInvalidArgument;
    }
    memory->total = d->total;
    memory->used = d->used;
    memory->free = d->total - d->used;
    return 0;
  });
}

const char* nvmlErrorString(int code) {
  static thread_local char text[64];
  std::snprintf(text, sizeof text, "fake NVML error %d", code);
  return text;
}

}  // extern "C"
// NOLINTEND(readability-identifier-naming)
