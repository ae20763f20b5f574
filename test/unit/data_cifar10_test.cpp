// cifar10:DIR — records from the five training files and the test file load in order with
// exact CHW pixels and labels; missing or cut files get one-line errors naming them.
#include "runtime/data/Dataset.h"
#include "test/unit/data_test_util.h"

namespace lrc::data {
namespace {

using namespace testing;

constexpr std::array<int64_t, 3> kCifar{3, 32, 32};

// One record: label, then pixel (c, y, x) = (tag + c * 7 + y * 3 + x) % 256.
Bytes record(uint8_t label, int tag) {
  Bytes r = {label};
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) r.push_back(static_cast<uint8_t>((tag + c * 7 + y * 3 + x) % 256));
  return r;
}

// data_batch_k.bin holds k records (tags 10k, 10k+1, ...; label (k + j) % 10), test_batch.bin 2.
struct CifarFiles {
  TempDir dir;
  CifarFiles() {
    for (int k = 1; k <= 5; ++k) {
      Bytes file;
      for (int j = 0; j < k; ++j) append(file, record(static_cast<uint8_t>((k + j) % 10), 10 * k + j));
      writeFile(dir / ("data_batch_" + std::to_string(k) + ".bin"), file);
    }
    Bytes test = record(3, 200);
    append(test, record(8, 201));
    writeFile(dir / "test_batch.bin", test);
  }
  std::unique_ptr<Dataset> open(Split split = Split::Train, std::array<int64_t, 3> shape = kCifar,
                                int64_t classes = 10) const {
    return openDataset("cifar10:" + dir.path(), split, shape, classes, 0);
  }
};

void expectRecordPixels(const std::vector<float>& img, int tag) {
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x)
        ASSERT_EQ(img[static_cast<size_t>((c * 32 + y) * 32 + x)],
                  static_cast<float>((tag + c * 7 + y * 3 + x) % 256) / 255.0f)
            << tag << " " << c << " " << y << " " << x;
}

TEST(DataCifar10, TrainingFilesLoadInOrderThenTheTestFile) {
  CifarFiles f;
  auto train = f.open();
  ASSERT_EQ(train->size(), 1 + 2 + 3 + 4 + 5);
  EXPECT_EQ(train->sampleShape(), kCifar);
  EXPECT_EQ(train->describe(), "cifar10:" + f.dir.path() + " (train, 15 images 3x32x32, 10 classes)");
  std::vector<float> img(3072);
  int64_t index = 0;
  for (int k = 1; k <= 5; ++k) {
    for (int j = 0; j < k; ++j, ++index) {
      EXPECT_EQ(train->get(index, img.data()), (k + j) % 10);
      expectRecordPixels(img, 10 * k + j);
    }
  }
  auto test = f.open(Split::Test);
  ASSERT_EQ(test->size(), 2);
  EXPECT_EQ(test->get(1, img.data()), 8);
  expectRecordPixels(img, 201);
}

// For a plan of another size with a resizing transform (anySize) the records keep their own
// 3x32x32; a grayscale plan is still refused.
TEST(DataCifar10, AnySizeKeepsTheRecordsShape) {
  CifarFiles f;
  auto train = openDataset("cifar10:" + f.dir.path(), Split::Train, {3, 64, 48}, 10, 0, /*anySize=*/true);
  EXPECT_EQ(train->sampleShape(), kCifar);
  EXPECT_EQ(train->describe(), "cifar10:" + f.dir.path() + " (train, 15 images 3x32x32, 10 classes)");
  Image image;
  EXPECT_EQ(train->read(3, image), 3);  // data_batch_3's first record
  EXPECT_EQ(image.shape, kCifar);
  expectRecordPixels(image.pixels, 30);
  expectDataError([&] { openDataset("cifar10:" + f.dir.path(), Split::Train, {1, 64, 64}, 10, 0, true); },
                  {"has 3x32x32 images but the plan expects 1 channels"});
}

TEST(DataCifar10, ThePlanMustExpect3x32x32AndTheLabels) {
  CifarFiles f;
  expectDataError(
      [&] {
        f.open(Split::Train, {1, 28, 28});
      },
      {"data: cifar10:" + f.dir.path() + " has 3x32x32 images but the plan expects 1x28x28"});
  expectDataError([&] { f.open(Split::Test, kCifar, 5); },
                  {f.dir / "test_batch.bin", "label 8 of sample 1 is outside [0, 5)"});
}

TEST(DataCifar10, MissingAndTruncatedFilesAreNamed) {
  CifarFiles f;
  std::filesystem::remove(f.dir / "data_batch_4.bin");
  expectDataError([&] { f.open(); }, {f.dir / "data_batch_4.bin", "binary CIFAR-10"});
  EXPECT_EQ(f.open(Split::Test)->size(), 2);

  const std::string test = f.dir / "test_batch.bin";
  const Bytes good = readFileBytes(test);
  writeFile(test, Bytes(good.begin(), good.end() - 1));
  expectDataError([&] { f.open(Split::Test); }, {test, "truncated", "6145 bytes", "3073-byte records"});
  writeFile(test, {});
  expectDataError([&] { f.open(Split::Test); }, {test, "truncated"});
  std::filesystem::remove(test);
  std::filesystem::create_directory(test);
  expectDataError([&] { f.open(Split::Test); }, {test});
}

// A directory that is not there is named as such, before the plan's shape is compared with
// CIFAR-10's (lrc-run --data cifar10:/nonexistent on a 1x28x28 plan said "has 3x32x32
// images"); so is a missing file.
TEST(DataCifar10, AMissingDirectoryOrFileIsNamedBeforeTheShape) {
  CifarFiles f;
  const std::string missing = f.dir / "nowhere";
  expectDataError([&] { openDataset("cifar10:" + missing, Split::Train, {1, 28, 28}, 10, 0); },
                  {"data: cifar10:" + missing + ": no such directory"});
  expectDataError([&] { openDataset("cifar10:" + (f.dir / "test_batch.bin"), Split::Test, kCifar, 10, 0); },
                  {"cifar10:" + (f.dir / "test_batch.bin") + ": not a directory"});
  std::filesystem::remove(f.dir / "test_batch.bin");
  expectDataError([&] { f.open(Split::Test, {1, 28, 28}); }, {f.dir / "test_batch.bin", "binary CIFAR-10"});
}

}  // namespace
}  // namespace lrc::data
