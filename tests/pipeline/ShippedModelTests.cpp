// The shipped models (models/*.pt) through TorchModel give the outputs Python gives on
// the same fixed input: the C++ side and the training tools agree on the contract.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "TrkaasCatch.hpp"
#include "trkaas/pipeline/TorchModel.hpp"

using namespace trkaas;

namespace {
std::string ref(const std::string& name) { return std::string(TRKAAS_SHIPPED_REFS) + "/" + name; }

template <class T>
std::vector<T> readRaw(const std::string& name) {
  std::ifstream in(ref(name), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(!bytes.empty());
  std::vector<T> v(bytes.size() / sizeof(T));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
  return v;
}
}  // namespace

TEST_CASE("shipped models give Python's outputs in C++", "[pipeline][torch][models]") {
  setTorchThreads(2);
  std::int64_t n = 0, f = 0, e = 0;
  std::ifstream(ref("shape.txt")) >> n >> f >> e;
  REQUIRE(n > 0);
  REQUIRE(f > 0);
  const auto x = readRaw<float>("x.bin");
  const auto edges = readRaw<std::int64_t>("edges.bin");
  REQUIRE(static_cast<std::int64_t>(x.size()) == n * f);
  REQUIRE(static_cast<std::int64_t>(edges.size()) == 2 * e);

  const auto close = [](const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO("element " << i);
      REQUIRE(a[i] == Approx(b[i]).margin(1e-4).epsilon(1e-4));
    }
  };
  TorchModel::Config c;
  c.numFeatures = f;
  c.path = std::string(TRKAAS_MODELS_DIR) + "/embedding.pt";
  c.kind = ModelKind::kEmbedding;
  c.name = "embedding";
  close(TorchModel(c).embed(x.data(), n), readRaw<float>("embedding.out.bin"));
  for (const char* name : {"filter", "gnn"}) {
    c.path = std::string(TRKAAS_MODELS_DIR) + "/" + name + ".pt";
    c.kind = ModelKind::kEdgeClassifier;
    c.name = name;
    close(TorchModel(c).classify(x.data(), n, edges.data(), e),
          readRaw<float>(std::string(name) + ".out.bin"));
  }
}
