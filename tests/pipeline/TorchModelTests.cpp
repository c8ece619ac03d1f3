// TorchModel against models made by make_test_models.py: outputs equal to Python's on a
// fixed input, and one refused model per way of breaking the contract.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "TrkaasCatch.hpp"
#include "trkaas/core/Error.hpp"
#include "trkaas/pipeline/TorchModel.hpp"

using namespace trkaas;

namespace {

std::string model(const std::string& name) { return std::string(TRKAAS_TEST_MODELS) + "/" + name; }

template <class T>
std::vector<T> readRaw(const std::string& name) {
  std::ifstream in(model(name), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(!bytes.empty());
  REQUIRE(bytes.size() % sizeof(T) == 0);
  std::vector<T> v(bytes.size() / sizeof(T));
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

TorchModel load(const std::string& file, ModelKind kind, std::int64_t features = 3) {
  TorchModel::Config c;
  c.path = model(file);
  c.kind = kind;
  c.numFeatures = features;
  c.name = file;
  return TorchModel(c);
}

void requireClose(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i);
    REQUIRE(a[i] == Approx(b[i]).margin(1e-5).epsilon(1e-5));
  }
}

}  // namespace

TEST_CASE("TorchModel gives Python's outputs on a fixed input", "[pipeline][torch]") {
  setTorchThreads(2);
  const auto x = readRaw<float>("x.bin");
  const auto edges = readRaw<std::int64_t>("edges.bin");
  const std::int64_t n = static_cast<std::int64_t>(x.size() / 3);
  const std::int64_t e = static_cast<std::int64_t>(edges.size() / 2);
  REQUIRE(n == 5);

  const TorchModel emb = load("emb_good.pt", ModelKind::kEmbedding);
  REQUIRE(emb.outputDim() == 4);
  requireClose(emb.embed(x.data(), n), readRaw<float>("emb_good.out.bin"));

  for (const char* name : {"edge_good", "edge_column"}) {
    INFO(name);
    const TorchModel clf = load(std::string(name) + ".pt", ModelKind::kEdgeClassifier);
    requireClose(clf.classify(x.data(), n, edges.data(), e),
                 readRaw<float>(std::string(name) + ".out.bin"));
  }
}

TEST_CASE("TorchModel handles one hit and no edges", "[pipeline][torch]") {
  const std::vector<float> x = {0.5f, -0.25f, 1.0f};
  const TorchModel emb = load("emb_good.pt", ModelKind::kEmbedding);
  REQUIRE(emb.embed(x.data(), 1).size() == 4);
  const TorchModel clf = load("edge_good.pt", ModelKind::kEdgeClassifier);
  REQUIRE(clf.classify(x.data(), 1, nullptr, 0).empty());
}

TEST_CASE("TorchModel refuses models that break the contract, saying how", "[pipeline][torch]") {
  const auto message = [](const std::string& file, ModelKind kind, std::int64_t features = 3) {
    try {
      load(file, kind, features);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  const std::string prefix = "model 'emb_rank1.pt' (" + model("emb_rank1.pt") + "): ";
  REQUIRE_THAT(message("emb_rank1.pt", ModelKind::kEmbedding),
               Catch::Matchers::StartsWith(prefix) &&
                   HasSubstring("embedding output must be [N, D] = [3, D], got [3]"));
  REQUIRE_THAT(message("emb_float64.pt", ModelKind::kEmbedding),
               HasSubstring("output must be float32"));
  REQUIRE_THAT(message("emb_needs4.pt", ModelKind::kEmbedding),
               HasSubstring("forward failed with F=3 input features"));
  REQUIRE(message("emb_needs4.pt", ModelKind::kEmbedding, 4) == "loaded");
  REQUIRE_THAT(message("edge_width2.pt", ModelKind::kEdgeClassifier),
               HasSubstring("edge classifier output must be logits [E] or [E, 1] with E = 2, "
                            "got [2, 2]"));
  // The wrong kind of model: forward takes the wrong arguments.
  REQUIRE_THAT(message("emb_good.pt", ModelKind::kEdgeClassifier),
               HasSubstring("forward takes 1 argument(s), but an edge classifier's forward "
                            "takes (x: f32[N,F], edge_index: i64[2,E])"));
  REQUIRE_THAT(message("edge_good.pt", ModelKind::kEmbedding),
               HasSubstring("forward takes 2 argument(s), but an embedding's forward takes"));
  // No C++ backtrace in the message.
  REQUIRE_THAT(message("emb_needs4.pt", ModelKind::kEmbedding),
               !HasSubstring("Exception raised from") && !HasSubstring("Traceback") &&
                   HasSubstring("cannot be multiplied"));
  REQUIRE_THAT(message("not_torchscript.pt", ModelKind::kEmbedding),
               HasSubstring("not a loadable TorchScript file"));
  REQUIRE_THAT(message("missing.pt", ModelKind::kEmbedding), HasSubstring("no such file"));
}
