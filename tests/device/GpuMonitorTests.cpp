// GpuMonitor: the CUDA_VISIBLE_DEVICES mapping, the report line, the monitor on this node
// (no GPU driver: "n/a" with the reason), the whole sampling path against a stand-in NVML
// library (FakeNvml.cpp: devices, usage and failures set by the test), and on the GPU
// machine (TRKAAS_REQUIRE_GPU=1) the real NVML.
#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/device/GpuMonitor.hpp"

using trkaas::device::GpuMonitor;
using trkaas::device::selectNvmlDevice;

namespace {

bool gpuRequired() {
  const char* v = std::getenv("TRKAAS_REQUIRE_GPU");
  return v != nullptr && std::string(v) == "1";
}

/// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : m_name(name) {
    const char* old = std::getenv(name);
    m_had = old != nullptr;
    if (m_had) {
      m_old = old;
    }
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (m_had) {
      ::setenv(m_name.c_str(), m_old.c_str(), 1);
    } else {
      ::unsetenv(m_name.c_str());
    }
  }

 private:
  std::string m_name, m_old;
  bool m_had = false;
};

/// The stand-in NVML library and its controls (see FakeNvml.cpp).
struct FakeNvml {
  void* handle = ::dlopen(TRKAAS_FAKE_NVML, RTLD_NOW | RTLD_LOCAL);
  template <class F>
  F* get(const char* name) const {
    REQUIRE(handle != nullptr);
    void* symbol = ::dlsym(handle, name);
    REQUIRE(symbol != nullptr);
    return reinterpret_cast<F*>(symbol);
  }
  void reset(unsigned count) const { get<void(unsigned)>("fakeNvmlReset")(count); }
  void setUsage(unsigned index, unsigned busy, unsigned long long usedMiB) const {
    get<void(unsigned, unsigned, unsigned long long)>("fakeNvmlSetUsage")(index, busy,
                                                                          usedMiB << 20);
  }
  void fail(const char* function, int afterCalls, int code) const {
    get<void(const char*, int, int)>("fakeNvmlFail")(function, afterCalls, code);
  }
  int sessions() const { return get<int()>("fakeNvmlSessions")(); }
  ~FakeNvml() {
    if (handle != nullptr) {
      ::dlclose(handle);
    }
  }
};

GpuMonitor::Config fakeConfig(int device = 0) {
  GpuMonitor::Config c;
  c.device = device;
  c.intervalSeconds = 0.005;
  c.library = TRKAAS_FAKE_NVML;
  return c;
}

/// Waits (at most 10 s) until the summary satisfies `done`; returns the last summary.
GpuMonitor::Summary waitFor(const GpuMonitor& monitor,
                            const std::function<bool(const GpuMonitor::Summary&)>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  GpuMonitor::Summary s = monitor.summary();
  while (!done(s) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    s = monitor.summary();
  }
  return s;
}

/// Device name seen by a fake-NVML monitor of CUDA device `device`, or "n/a (reason)".
std::string fakeDeviceSeen(int device) {
  GpuMonitor monitor(fakeConfig(device));
  monitor.start();
  const auto s = monitor.summary();
  return s.available ? s.deviceName : GpuMonitor::describe(s);
}

}  // namespace

TEST_CASE("CUDA_VISIBLE_DEVICES maps CUDA device indices to NVML devices", "[device][monitor]") {
  SECTION("not set: the same index") {
    for (int i : {0, 1, 7}) {
      const auto s = selectNvmlDevice(i, nullptr);
      REQUIRE(s.ok());
      REQUIRE_FALSE(s.byUuid());
      REQUIRE(s.nvmlIndex == static_cast<unsigned>(i));
    }
  }
  SECTION("numeric ids: device i is the i-th id") {
    REQUIRE(selectNvmlDevice(0, "2,5").nvmlIndex == 2);
    REQUIRE(selectNvmlDevice(1, "2,5").nvmlIndex == 5);
    REQUIRE(selectNvmlDevice(1, " 3 , 0 ").nvmlIndex == 0);
    REQUIRE(selectNvmlDevice(0, "1gpu").nvmlIndex == 1);  // read like strtoul, as CUDA does
    const auto beyond = selectNvmlDevice(2, "2,5");
    REQUIRE_FALSE(beyond.ok());
    REQUIRE_THAT(beyond.error, HasSubstring("CUDA device 2 is not visible"));
    REQUIRE_THAT(beyond.error, HasSubstring("CUDA_VISIBLE_DEVICES=\"2,5\" makes 2 devices"));
  }
  SECTION("an invalid entry ends the list, as in CUDA") {
    REQUIRE(selectNvmlDevice(1, "0,2,-1,3").nvmlIndex == 2);
    REQUIRE_THAT(selectNvmlDevice(2, "0,2,-1,3").error, HasSubstring("makes 2 devices visible"));
    for (const char* none : {"abc", "-1", ",1", "", "  "}) {
      const auto s = selectNvmlDevice(0, none);
      REQUIRE_FALSE(s.ok());
      REQUIRE_THAT(s.error, HasSubstring("leaves no device visible to CUDA"));
    }
  }
  SECTION("a repeated id hides every device, as in CUDA") {
    REQUIRE_THAT(selectNvmlDevice(0, "1,0,1").error, HasSubstring("names 1 twice"));
  }
  SECTION("UUIDs: looked up by UUID") {
    const auto s = selectNvmlDevice(1, "GPU-aaaa-1111,GPU-bbbb-2222");
    REQUIRE(s.ok());
    REQUIRE(s.byUuid());
    REQUIRE(s.uuid == "GPU-bbbb-2222");
    REQUIRE(selectNvmlDevice(0, "MIG-cccc").uuid == "MIG-cccc");
    REQUIRE_THAT(selectNvmlDevice(1, "GPU-aaaa,0").error, HasSubstring("makes 1 device visible"));
  }
  SECTION("a negative index") {
    REQUIRE_THAT(selectNvmlDevice(-1, nullptr).error, HasSubstring("must be >= 0, got -1"));
  }
}

TEST_CASE("GpuMonitor checks its configuration", "[device][monitor]") {
  GpuMonitor::Config c;
  c.device = -1;
  REQUIRE_THROWS_WITH(GpuMonitor(c), HasSubstring("device must be a CUDA device index >= 0"));
  for (double bad : {0.0, -1.0, 4000.0, std::nan("")}) {
    c = GpuMonitor::Config{};
    c.intervalSeconds = bad;
    REQUIRE_THROWS_WITH(GpuMonitor(c), HasSubstring("intervalSeconds must be > 0 and <= 3600"));
  }
  GpuMonitor monitor(GpuMonitor::Config{});
  REQUIRE_FALSE(monitor.summary().available);
  REQUIRE(GpuMonitor::describe(monitor.summary()) == "n/a (GPU monitor not started)");
  monitor.stop();  // without start: nothing to do
}

TEST_CASE("GpuMonitor report line", "[device][monitor]") {
  GpuMonitor::Summary s;
  s.available = true;
  s.deviceName = "NVIDIA H100 80GB HBM3";
  s.samples = 40;
  s.busyFraction = 0.9312;
  s.peakMemoryUsedMiB = 12345.2;
  s.totalMemoryMiB = 81559.0;
  REQUIRE(GpuMonitor::describe(s) ==
          "busy 93.1%, peak memory 12,345 of 81,559 MiB (NVIDIA H100 80GB HBM3)");
  s.samples = 0;
  s.peakMemoryUsedMiB = 512;
  s.totalMemoryMiB = 1234567;
  REQUIRE(GpuMonitor::describe(s) ==
          "busy n/a (no sample yet), peak memory 512 of 1,234,567 MiB (NVIDIA H100 80GB HBM3)");
  s.available = false;
  s.reason = "no NVML library (libnvidia-ml.so.1): no GPU driver on this node";
  REQUIRE(GpuMonitor::describe(s) ==
          "n/a (no NVML library (libnvidia-ml.so.1): no GPU driver on this node)");
}

TEST_CASE("GpuMonitor on a node without NVML says n/a and why", "[device][monitor]") {
  GpuMonitor monitor(GpuMonitor::Config{});
  monitor.start();
  const auto s = monitor.summary();
  void* real = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (real != nullptr) {
    ::dlclose(real);
    SUCCEED("this node has NVML; see the [gpu] test (summary: " + GpuMonitor::describe(s) + ")");
  } else {
    REQUIRE_FALSE(s.available);
    REQUIRE(s.reason == "no NVML library (libnvidia-ml.so.1): no GPU driver on this node");
    REQUIRE(s.samples == 0);
    REQUIRE_THAT(GpuMonitor::describe(s), HasSubstring("n/a (no NVML library (libnvidia-ml"));
  }
  REQUIRE_THROWS_WITH(monitor.start(), HasSubstring("called twice"));
  monitor.stop();
  monitor.stop();
  REQUIRE(monitor.summary().available == s.available);
}

TEST_CASE("GpuMonitor names a library that is not NVML", "[device][monitor]") {
  GpuMonitor::Config c;
  c.library = "libtrkaas-no-such-library.so";
  GpuMonitor missing(c);
  missing.start();
  REQUIRE_THAT(missing.summary().reason,
               HasSubstring("no NVML library (libtrkaas-no-such-library.so): "));
  c.library = "libc.so.6";
  GpuMonitor notNvml(c);
  notNvml.start();
  REQUIRE(notNvml.summary().reason ==
          "NVML library libc.so.6 has no nvmlInit_v2 (driver too old?)");
}

TEST_CASE("GpuMonitor samples busy fraction and peak memory (stand-in NVML)", "[device][monitor]") {
  const FakeNvml fake;
  fake.reset(3);
  ScopedEnv env("CUDA_VISIBLE_DEVICES", nullptr);
  fake.setUsage(1, 75, 1000);
  {
    GpuMonitor monitor(fakeConfig(1));
    monitor.start();
    auto s = monitor.summary();
    REQUIRE(s.available);
    REQUIRE(s.reason.empty());
    REQUIRE(s.deviceName == "Fake GPU 1");
    REQUIRE(s.totalMemoryMiB == 24.0 * 1024);
    REQUIRE(s.peakMemoryUsedMiB == 1000.0);  // read at start
    REQUIRE(fake.sessions() == 1);

    s = waitFor(monitor, [](const auto& x) { return x.samples >= 3; });
    REQUIRE(s.available);
    REQUIRE(s.busyFraction == Approx(0.75));
    fake.setUsage(1, 75, 5000);
    const auto before = s.samples;
    s = waitFor(monitor, [&](const auto& x) { return x.samples >= before + 2; });
    fake.setUsage(1, 75, 3000);
    s = waitFor(monitor, [&](const auto& x) { return x.samples >= before + 6; });
    REQUIRE(s.available);
    REQUIRE(s.peakMemoryUsedMiB == 5000.0);
    REQUIRE(GpuMonitor::describe(s) == "busy 75.0%, peak memory 5,000 of 24,576 MiB (Fake GPU 1)");
    monitor.stop();
    REQUIRE(fake.sessions() == 0);
    const auto after = monitor.summary();
    REQUIRE(after.available);
    REQUIRE(after.samples >= s.samples);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    REQUIRE(monitor.summary().samples == after.samples);  // no sampling after stop
  }
  SECTION("the mean of varying utilisations") {
    fake.reset(1);
    fake.setUsage(0, 100, 0);
    GpuMonitor monitor(fakeConfig(0));
    monitor.start();
    // Half of the samples at 100 %, the rest at 0 %: the mean lies in between.
    auto s = waitFor(monitor, [](const auto& x) { return x.samples >= 4; });
    fake.setUsage(0, 0, 0);
    const auto busySamples = s.samples;
    s = waitFor(monitor, [&](const auto& x) { return x.samples >= 2 * busySamples + 2; });
    monitor.stop();
    s = monitor.summary();
    REQUIRE(s.busyFraction > 0.0);
    REQUIRE(s.busyFraction < 1.0);
  }
}

TEST_CASE("GpuMonitor stops at once, also during a long interval", "[device][monitor]") {
  const FakeNvml fake;
  fake.reset(1);
  ScopedEnv env("CUDA_VISIBLE_DEVICES", nullptr);
  GpuMonitor::Config c = fakeConfig();
  c.intervalSeconds = 3600;
  const auto t0 = std::chrono::steady_clock::now();
  {
    GpuMonitor monitor(c);
    monitor.start();
    REQUIRE(monitor.summary().available);
    REQUIRE(monitor.summary().samples == 0);
    REQUIRE_THAT(GpuMonitor::describe(monitor.summary()),
                 HasSubstring("busy n/a (no sample yet), peak memory 0 of 16,384 MiB"));
  }  // the destructor stops it
  REQUIRE(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  REQUIRE(fake.sessions() == 0);
}

TEST_CASE("GpuMonitor finds the device CUDA_VISIBLE_DEVICES names (stand-in NVML)",
          "[device][monitor]") {
  const FakeNvml fake;
  fake.reset(4);
  {
    ScopedEnv env("CUDA_VISIBLE_DEVICES", "2,0");
    REQUIRE(fakeDeviceSeen(0) == "Fake GPU 2");
    REQUIRE(fakeDeviceSeen(1) == "Fake GPU 0");
    REQUIRE_THAT(fakeDeviceSeen(2), HasSubstring("CUDA device 2 is not visible"));
  }
  {
    ScopedEnv env("CUDA_VISIBLE_DEVICES", "1,7");
    REQUIRE_THAT(fakeDeviceSeen(1),
                 HasSubstring("CUDA device 1 is NVML device 7 (CUDA_VISIBLE_DEVICES=\"1,7\"), "
                              "but NVML sees 4 devices"));
  }
  {
    // A whole UUID through nvmlDeviceGetHandleByUUID, a leading part by comparing UUIDs.
    ScopedEnv env("CUDA_VISIBLE_DEVICES",
                  "GPU-a3000000-0000-4000-8000-000000000003,GPU-a1,GPU-a,GPU-ff");
    REQUIRE(fakeDeviceSeen(0) == "Fake GPU 3");
    REQUIRE(fakeDeviceSeen(1) == "Fake GPU 1");
    REQUIRE_THAT(fakeDeviceSeen(2), HasSubstring("4 NVML devices have UUIDs starting with GPU-a"));
    REQUIRE_THAT(fakeDeviceSeen(3), HasSubstring("no NVML device has UUID GPU-ff"));
  }
  REQUIRE(fake.sessions() == 0);
}

TEST_CASE("GpuMonitor turns NVML failures into a reason (stand-in NVML)", "[device][monitor]") {
  const FakeNvml fake;
  ScopedEnv env("CUDA_VISIBLE_DEVICES", nullptr);
  SECTION("no driver: nvmlInit_v2 fails") {
    fake.reset(1);
    fake.fail("nvmlInit_v2", 0, 9);
    REQUIRE(fakeDeviceSeen(0) == "n/a (nvmlInit_v2 failed: fake NVML error 9)");
  }
  SECTION("a device without utilisation (e.g. MIG)") {
    fake.reset(1);
    fake.fail("nvmlDeviceGetUtilizationRates", 0, 3);
    REQUIRE(fakeDeviceSeen(0) == "n/a (nvmlDeviceGetUtilizationRates failed: fake NVML error 3)");
  }
  SECTION("the GPU is lost while sampling") {
    fake.reset(1);
    fake.fail("nvmlDeviceGetMemoryInfo", 4, 15);  // 1 read at start, then 3 samples
    GpuMonitor monitor(fakeConfig());
    monitor.start();
    const auto s = waitFor(monitor, [](const auto& x) { return !x.available; });
    REQUIRE_FALSE(s.available);
    REQUIRE(s.reason == "nvmlDeviceGetMemoryInfo failed: fake NVML error 15 after 3 samples");
    REQUIRE(s.samples == 3);
    REQUIRE(GpuMonitor::describe(s) == "n/a (" + s.reason + ")");
    monitor.stop();
  }
  REQUIRE(fake.sessions() == 0);
}

TEST_CASE("GpuMonitor reads the GPU when one is required", "[device][monitor][gpu]") {
  // On the GPU machine: TRKAAS_REQUIRE_GPU=1 ctest -R device_ (see src/device/README.md).
  if (!gpuRequired()) {
    TRKAAS_SKIP("TRKAAS_REQUIRE_GPU is not 1: the real NVML is read only where required");
    return;
  }
  GpuMonitor::Config c;
  c.intervalSeconds = 0.05;
  GpuMonitor monitor(c);
  monitor.start();
  const auto first = monitor.summary();
  INFO(GpuMonitor::describe(first));
  REQUIRE(first.available);
  REQUIRE_FALSE(first.deviceName.empty());
  REQUIRE(first.totalMemoryMiB > 0);
  const auto s = waitFor(monitor, [](const auto& x) { return x.samples >= 3 || !x.available; });
  monitor.stop();
  INFO(GpuMonitor::describe(s));
  REQUIRE(s.available);
  REQUIRE(s.samples >= 3);
  REQUIRE(s.busyFraction >= 0.0);
  REQUIRE(s.busyFraction <= 1.0);
  REQUIRE(s.peakMemoryUsedMiB <= s.totalMemoryMiB);
  WARN("GPU monitor: " + GpuMonitor::describe(s));
}
