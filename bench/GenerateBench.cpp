// Event generation speed: hits, particles and seconds per event at pile-up 0 (hard
// scatter), 20 and 200 on the full TrackML detector, one thread.
// Usage: bench_generate [events per point (default 5)] [detector file]

#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>

#include "trkaas/sim/Detector.hpp"
#include "trkaas/sim/EventGenerator.hpp"

namespace {

struct Point {
  const char* name;
  double pileup;
  bool hardScatter;
};

}  // namespace

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const int nEvents = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const std::string path = argc > 2 ? argv[2] : trkaas::Detector::defaultPath();

  const auto t0 = Clock::now();
  auto detector = std::make_shared<const trkaas::Detector>(trkaas::Detector::load(path));
  const double loadSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << "detector: " << path << ": " << detector->size() << " modules, loaded in "
            << std::fixed << std::setprecision(3) << loadSeconds << " s\n";
  std::cout << "events per point: " << nEvents << ", one thread\n\n";
  std::cout << std::left << std::setw(22) << "point" << std::right << std::setw(12) << "hits/event"
            << std::setw(16) << "particles/event" << std::setw(12) << "s/event" << std::setw(14)
            << "setup s" << '\n';

  const Point points[] = {{"mu=0 + hard scatter", 0.0, true},
                          {"mu=20", 20.0, false},
                          {"mu=200", 200.0, false},
                          {"mu=200 + hard scatter", 200.0, true}};
  for (const Point& point : points) {
    trkaas::GeneratorConfig config;
    config.pileup = point.pileup;
    config.hardScatter = point.hardScatter;
    config.seed = 12345;
    const auto s0 = Clock::now();
    trkaas::EventGenerator generator(detector, config);
    const double setup = std::chrono::duration<double>(Clock::now() - s0).count();
    (void)generator.generate(0);  // warm-up
    double hits = 0.0;
    double particles = 0.0;
    const auto g0 = Clock::now();
    for (int e = 1; e <= nEvents; ++e) {
      const trkaas::Event event = generator.generate(e);
      hits += static_cast<double>(event.hits.size());
      particles += static_cast<double>(event.particles.size());
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - g0).count();
    std::cout << std::left << std::setw(22) << point.name << std::right << std::setw(12)
              << std::setprecision(0) << hits / nEvents << std::setw(16) << particles / nEvents
              << std::setw(12) << std::setprecision(4) << seconds / nEvents << std::setw(14)
              << std::setprecision(3) << setup << '\n';
  }
  return 0;
}
