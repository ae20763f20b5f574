// Corrupt plans are errors, never crashes: real plans' payloads with bytes flipped or cut
// short, framed again with a valid checksum so that they get past the framing, must fail to
// decode or fail validation; the few that pass (a flipped weight, say) must then run one
// training and one evaluation step without crashing. Run under ASan once in a while:
//   cmake -DCMAKE_CXX_FLAGS=-fsanitize=address ... && runtime_plan_fuzz_test
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

#include "runtime_test_util.h"

namespace lrc::runtime {
namespace {

using testing::TempDir;

// The plan file framing (runtime/plan/PlanFile.h) around arbitrary payload bytes.
std::string frame(const std::string& payload) {
  std::string out("LRCPLAN", 8);
  auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put(plan::kPlanVersion, 4);
  put(payload.size(), 8);
  out += payload;
  put(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())),
      4);
  return out;
}

struct Outcome {
  int decodeErrors = 0, validationErrors = 0, ran = 0;
};

// Decodes and validates `bytes`; runs what passes (when its arena is small).
void tryPlan(const std::string& bytes, Outcome& outcome) {
  google::protobuf::LogSilencer quiet;  // invalid UTF-8 in names is logged, and expected here
  plan::Plan p;
  try {
    p = plan::decodePlanFile(bytes, "fuzz.plan");
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("fuzz.plan: ", 0), 0u) << e.what();
    ++outcome.decodeErrors;
    return;
  }
  CpuBackend backend;
  try {
    validatePlan(p, "fuzz.plan", backend);
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("fuzz.plan: ", 0), 0u) << e.what();
    ++outcome.validationErrors;
    return;
  }
  if (p.arena_bytes() > (64u << 20)) return;
  try {
    Executor executor(p, backend, defaultSettings(p));
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

void fuzz(const plan::Plan& plan, uint32_t seed, int flips, int cuts) {
  std::string payload;
  ASSERT_TRUE(plan.SerializeToString(&payload));
  std::mt19937 rng(seed);
  Outcome outcome;
  for (int i = 0; i < flips; ++i) {
    std::string bad = payload;
    const int count = 1 + static_cast<int>(rng() % 4);
    // Half of the flips land in the first 4 KiB (header, buffers, small inits), where
    // most of the structure is; the rest anywhere.
    for (int k = 0; k < count; ++k) {
      const size_t limit = (rng() % 2) ? std::min<size_t>(bad.size(), 4096) : bad.size();
      bad[rng() % limit] ^= static_cast<char>(1u << (rng() % 8));
    }
    tryPlan(frame(bad), outcome);
  }
  for (int i = 0; i < cuts; ++i) tryPlan(frame(payload.substr(0, rng() % payload.size())), outcome);
  EXPECT_GT(outcome.decodeErrors + outcome.validationErrors, (flips + cuts) / 4);
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
  const plan::Plan base = testing::compilePlan(testing::writeMixedModel(dir.file("mixed.onnx")), 4);
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
            tryPlan(plan::encodePlanFile(p), outcome);
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
        tryPlan(plan::encodePlanFile(p), outcome);
      }
    }
  }
  EXPECT_GT(outcome.validationErrors, 0);
}

}  // namespace
}  // namespace lrc::runtime
