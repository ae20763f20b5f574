// Corrupt plans are errors, never crashes: real plans' payloads (and weights sections) with
// bytes flipped or cut short, framed again with valid checksums so that they get past the
// framing, must fail to decode or fail validation; the few that pass (a flipped name, say)
// must then load their weights and run one training and one evaluation step without
// crashing. Whole plan files damaged anywhere, checksums left as they were, must always be
// a one-line error: from the framing, or from the weights' checksum when they are streamed.
// Run under ASan once in a while:
//   cmake -DCMAKE_CXX_FLAGS=-fsanitize=address ... && runtime_plan_fuzz_test
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <optional>
#include <random>

#include "runtime_test_util.h"

namespace lrc::runtime {
namespace {

using testing::CompiledPlan;
using testing::framePlanFile;
using testing::TempDir;

struct Outcome {
  int decodeErrors = 0, validationErrors = 0, ran = 0;
};

// Decodes and validates `bytes`; runs what passes (when its arena is small).
void tryPlan(const std::string& bytes, Outcome& outcome) {
  google::protobuf::LogSilencer quiet;  // invalid UTF-8 in names is logged, and expected here
  plan::DecodedPlanFile decoded;
  try {
    decoded = plan::decodePlanFile(bytes, "fuzz.plan");
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("fuzz.plan: ", 0), 0u) << e.what();
    ++outcome.decodeErrors;
    return;
  }
  const plan::Plan& p = decoded.plan;
  CpuBackend backend;
  try {
    validatePlan(p, decoded.weights.size(), "fuzz.plan", backend);
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("fuzz.plan: ", 0), 0u) << e.what();
    ++outcome.validationErrors;
    return;
  }
  if (p.arena_bytes() > (64u << 20)) return;
  try {
    Executor executor(p, plan::MemoryWeights(decoded.weights), backend, defaultSettings(p));
    testing::Batch batch = testing::makeBatch(executor.shape(), 1);
    executor.trainStep(batch.images.data(), batch.labels.data());
    std::vector<float> logits(static_cast<size_t>(executor.shape().batch * executor.shape().classes));
    executor.evaluate(batch.images.data(), logits.data());
    executor.measuredPeakBytes();
  } catch (const std::exception&) {
    // A kernel may refuse what it is given; it must not crash.
  }
  ++outcome.ran;
}

void fuzz(const CompiledPlan& plan, uint32_t seed, int flips, int cuts) {
  std::string payload;
  ASSERT_TRUE(plan.plan.SerializeToString(&payload));
  const std::string& weights = plan.weights;
  std::mt19937 rng(seed);
  Outcome outcome;
  for (int i = 0; i < flips; ++i) {
    std::string bad = payload;
    const int count = 1 + static_cast<int>(rng() % 4);
    // Half of the flips land in the first 4 KiB (header, buffers), where most of the
    // structure is; the rest anywhere.
    for (int k = 0; k < count; ++k) {
      const size_t limit = (rng() % 2) ? std::min<size_t>(bad.size(), 4096) : bad.size();
      bad[rng() % limit] ^= static_cast<char>(1u << (rng() % 8));
    }
    tryPlan(framePlanFile(bad, weights), outcome);
  }
  for (int i = 0; i < cuts; ++i) tryPlan(framePlanFile(payload.substr(0, rng() % payload.size()), weights), outcome);
  // A weights section cut short: the inits' ranges no longer fit.
  for (int i = 0; i < cuts / 4; ++i) tryPlan(framePlanFile(payload, weights.substr(0, rng() % weights.size())), outcome);
  EXPECT_GT(outcome.decodeErrors + outcome.validationErrors, (flips + cuts + cuts / 4) / 4);
  std::cout << "fuzz: " << outcome.decodeErrors << " undecodable, " << outcome.validationErrors
            << " rejected by validation, " << outcome.ran << " ran\n";
}

TEST(PlanFuzz, FashionCnn) { fuzz(testing::compilePlan(testing::fashionModelPath(), 2), 1, 600, 100); }

TEST(PlanFuzz, MixedModel) {
  TempDir dir("fuzz");
  fuzz(testing::compilePlan(testing::writeMixedModel(dir.file("mixed.onnx")), 4), 2, 600, 100);
}

// Structural damage that keeps the protobuf well formed: every step index, attribute value
// and shape entry in turn set to values around the edges.
TEST(PlanFuzz, EdgeValues) {
  TempDir dir("fuzz");
  const CompiledPlan compiled = testing::compilePlan(testing::writeMixedModel(dir.file("mixed.onnx")), 4);
  const plan::Plan& base = compiled.plan;
  auto frame = [&](const plan::Plan& p) { return plan::encodePlanFile(p, compiled.weights); };
  const int64_t edges[] = {0,
                           -1,
                           1,
                           2,
                           3,
                           1 << 20,
                           int64_t{1} << 40,
                           std::numeric_limits<int64_t>::max(),
                           std::numeric_limits<int64_t>::min()};
  Outcome outcome;
  for (const plan::Program* program : {&base.train(), &base.eval()}) {
    const bool train = program == &base.train();
    for (int s = 0; s < program->steps_size(); ++s) {
      for (int a = 0; a < program->steps(s).attrs_size(); ++a) {
        for (int i = 0; i < program->steps(s).attrs(a).ints_size(); ++i) {
          for (int64_t edge : edges) {
            plan::Plan p = base;
            plan::Program* prog = train ? p.mutable_train() : p.mutable_eval();
            prog->mutable_steps(s)->mutable_attrs(a)->set_ints(i, edge);
            tryPlan(frame(p), outcome);
          }
        }
      }
    }
  }
  for (int b = 0; b < base.buffers_size(); ++b) {
    for (int d = 0; d < base.buffers(b).shape_size(); ++d) {
      for (int64_t edge : edges) {
        plan::Plan p = base;
        p.mutable_buffers(b)->set_shape(d, edge);
        tryPlan(frame(p), outcome);
      }
    }
  }
  const uint64_t weightsBytes = compiled.weights.size();
  const uint64_t rangeEdges[] = {0,
                                 1,
                                 4,
                                 weightsBytes - 4,
                                 weightsBytes,
                                 weightsBytes + 1,
                                 uint64_t{1} << 63,
                                 std::numeric_limits<uint64_t>::max() - 3,
                                 std::numeric_limits<uint64_t>::max()};
  for (int i = 0; i < base.inits_size(); ++i) {
    for (uint64_t edge : rangeEdges) {
      plan::Plan p = base;
      p.mutable_inits(i)->set_weights_offset(edge);
      tryPlan(frame(p), outcome);
      p = base;
      p.mutable_inits(i)->set_bytes(edge);
      tryPlan(frame(p), outcome);
    }
  }
  EXPECT_GT(outcome.validationErrors, 0);
}

// A real plan file damaged anywhere (a flipped byte, a cut, a byte too many), its checksums
// left as they were: loading fails, or the executor's construction does when it streams
// the weights; always a one-line error that names the file, never a crash, never a run.
TEST(PlanFuzz, DamagedFiles) {
  TempDir dir("fuzz");
  const CompiledPlan compiled = testing::compilePlan(testing::fashionModelPath(), 2);
  const std::string good = compiled.fileBytes();
  const std::string path = dir.file("fuzz.plan");
  const size_t weightsStart = good.size() - 4 - compiled.weights.size();
  std::mt19937 rng(5);
  // Every header byte, the payload's first and last bytes and its checksum, the weights'
  // first and last bytes and their checksum, then random ones.
  std::vector<size_t> positions;
  for (size_t i = 0; i < 28; ++i) positions.push_back(i);
  for (size_t i : {size_t{28}, weightsStart - 5, weightsStart - 4, weightsStart - 1, weightsStart,
                   good.size() - 5, good.size() - 4, good.size() - 1})
    positions.push_back(i);
  for (int i = 0; i < 100; ++i) positions.push_back(rng() % good.size());
  std::vector<std::string> damaged;
  for (size_t at : positions) {
    std::string bad = good;
    bad[at] ^= static_cast<char>(1u << (rng() % 8));
    damaged.push_back(bad);
  }
  for (size_t cut : {size_t{0}, size_t{7}, size_t{27}, size_t{28}, weightsStart - 1, weightsStart,
                     good.size() - 4, good.size() - 1})
    damaged.push_back(good.substr(0, cut));
  damaged.push_back(good + '\0');

  int atLoad = 0, atStream = 0;
  for (const std::string& bytes : damaged) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    CpuBackend backend;
    try {
      google::protobuf::LogSilencer quiet;
      std::optional<plan::PlanFile> file;
      try {
        file.emplace(loadPlan(path, backend));
      } catch (const std::runtime_error&) {
        ++atLoad;
        throw;
      }
      ++atStream;
      Executor executor(file->plan(), *file, backend, defaultSettings(file->plan()));
      ADD_FAILURE() << "damaged file ran";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
  EXPECT_GT(atLoad, 0);
  EXPECT_GT(atStream, 0);
}

}  // namespace
}  // namespace lrc::runtime
