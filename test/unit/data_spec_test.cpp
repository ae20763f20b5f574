// openDataset's SPEC: the kinds of SPEC.md §3 and a one-line error for anything else.
#include "runtime/data/Dataset.h"
#include "test/unit/data_test_util.h"

namespace lrc::data {
namespace {

using namespace testing;

TEST(DataSpec, UnknownKindsListTheSupportedOnes) {
  for (const char* spec : {"csv:a.csv", "imagenet", "", "npz:x.npz", "synthetic:5", "Synthetic"}) {
    expectDataError(
        [&] {
          openDataset(spec, Split::Train, {1, 2, 2}, 2, 0);
        },
        {"unknown data spec '" + std::string(spec) + "'",
         "npy:X.npy,Y.npy, idx:DIR, cifar10:DIR, folder:DIR or synthetic"});
  }
}

TEST(DataSpec, KindsNeedTheirArguments) {
  for (const char* kind : {"idx", "cifar10", "folder"})
    expectDataError(
        [&] {
          openDataset(std::string(kind) + ":", Split::Train, {1, 2, 2}, 2, 0);
        },
        {std::string(kind) + ":' names no directory"});
  expectDataError([&] { openDataset("npy:", Split::Train, {1, 2, 2}, 2, 0); }, {"names no files"});
  for (const char* spec : {"npy:x.npy", "npy:x.npy,", "npy:,y.npy", "npy:a,b,c"})
    expectDataError([&] { openDataset(spec, Split::Train, {1, 2, 2}, 2, 0); }, {spec, "npy:X.npy,Y.npy"});
}

TEST(DataSpec, ThePlanMustBePositive) {
  expectDataError([&] { openDataset("synthetic", Split::Train, {0, 2, 2}, 2, 0); }, {"0x2x2", "positive"});
  expectDataError([&] { openDataset("synthetic", Split::Train, {1, 2, 2}, 0, 0); }, {"classes 0", "positive"});
}

}  // namespace
}  // namespace lrc::data
