// idx:DIR — IDX files plain and gzip-compressed load with exact pixels and labels, malformed
// ones get one-line errors naming them, and the Fashion-MNIST of the Debian package loads.
#include <algorithm>
#include <numeric>

#include "runtime/data/Dataset.h"
#include "test/unit/data_test_util.h"

namespace lrc::data {
namespace {

using namespace testing;

Bytes idxImages(uint32_t n, uint32_t h, uint32_t w, uint8_t first) {
  Bytes b = {0, 0, 8, 3};
  for (uint32_t d : {n, h, w}) appendBigEndian32(b, d);
  for (uint32_t i = 0; i < n * h * w; ++i) b.push_back(static_cast<uint8_t>(first + i));
  return b;
}

Bytes idxLabels(const Bytes& labels) {
  Bytes b = {0, 0, 8, 1};
  appendBigEndian32(b, static_cast<uint32_t>(labels.size()));
  append(b, labels);
  return b;
}

// Train: 3 images 2x4 (pixels 0..23) labelled 5, 0, 9, gzip-compressed; test: 2 images
// (pixels 100..115) labelled 1, 2, plain.
struct IdxFiles {
  TempDir dir;
  IdxFiles() {
    writeFile(dir / "train-images-idx3-ubyte.gz", gzipFile(idxImages(3, 2, 4, 0)));
    writeFile(dir / "train-labels-idx1-ubyte.gz", gzipFile(idxLabels({5, 0, 9})));
    writeFile(dir / "t10k-images-idx3-ubyte", idxImages(2, 2, 4, 100));
    writeFile(dir / "t10k-labels-idx1-ubyte", idxLabels({1, 2}));
  }
  std::unique_ptr<Dataset> open(Split split = Split::Train, std::array<int64_t, 3> shape = {1, 2, 4},
                                int64_t classes = 10) const {
    return openDataset("idx:" + dir.path(), split, shape, classes, 0);
  }
};

// For a plan of another size with a resizing transform (anySize) the images keep their own
// 1x2x4.
TEST(DataIdx, AnySizeKeepsTheFilesShape) {
  IdxFiles f;
  auto train = openDataset("idx:" + f.dir.path(), Split::Train, {1, 28, 28}, 10, 0, /*anySize=*/true);
  EXPECT_EQ(train->sampleShape(), (Shape{1, 2, 4}));
  EXPECT_EQ(train->describe(), "idx:" + f.dir.path() + " (train, 3 images 1x2x4, 10 classes)");
  Image image;
  EXPECT_EQ(train->read(2, image), 9);
  EXPECT_EQ(image.shape, (Shape{1, 2, 4}));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(image.pixels[static_cast<size_t>(i)], static_cast<float>(16 + i) / 255.0f);
  expectDataError([&] { f.open(Split::Train, {1, 28, 28}); }, {"has 1x2x4 images but the plan expects 1x28x28"});
}

TEST(DataIdx, GzipTrainAndPlainTestSplitsLoad) {
  IdxFiles f;
  auto train = f.open();
  EXPECT_EQ(train->size(), 3);
  EXPECT_EQ(train->sampleShape(), (std::array<int64_t, 3>{1, 2, 4}));
  EXPECT_EQ(train->numClasses(), 10);
  EXPECT_EQ(train->describe(), "idx:" + f.dir.path() + " (train, 3 images 1x2x4, 10 classes)");
  std::vector<float> img(8);
  EXPECT_EQ(train->get(2, img.data()), 9);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(img[i], static_cast<float>(16 + i) / 255.0f);
  EXPECT_EQ(train->get(1, img.data()), 0);

  auto test = f.open(Split::Test);
  EXPECT_EQ(test->size(), 2);
  EXPECT_EQ(test->get(1, img.data()), 2);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(img[i], static_cast<float>(108 + i) / 255.0f);
  expectDataError([&] { test->get(2, img.data()); }, {"sample 2 is outside [0, 2)"});
  expectDataError([&] { test->get(-1, img.data()); }, {"sample -1"});
}

TEST(DataIdx, ThePlainFileWinsOverTheGzipOne) {
  IdxFiles f;
  writeFile(f.dir / "train-images-idx3-ubyte", idxImages(3, 2, 4, 50));
  writeFile(f.dir / "train-labels-idx1-ubyte", idxLabels({1, 1, 1}));
  std::vector<float> img(8);
  EXPECT_EQ(f.open()->get(0, img.data()), 1);
  EXPECT_EQ(img[0], 50.0f / 255.0f);
}

TEST(DataIdx, MissingFilesAreNamed) {
  IdxFiles f;
  std::filesystem::remove(f.dir / "t10k-labels-idx1-ubyte");
  expectDataError([&] { f.open(Split::Test); },
                  {f.dir / "t10k-labels-idx1-ubyte", f.dir / "t10k-labels-idx1-ubyte.gz", "has neither"});
  expectDataError(
      [&] {
        openDataset("idx:" + (f.dir / "nowhere"), Split::Train, {1, 2, 4}, 10, 0);
      },
      {f.dir / "nowhere/train-images-idx3-ubyte"});
}

TEST(DataIdx, ShapeAndLabelsAreCheckedAgainstThePlan) {
  IdxFiles f;
  expectDataError(
      [&] {
        f.open(Split::Train, {3, 32, 32});
      },
      {"data: " + (f.dir / "train-images-idx3-ubyte.gz") + " has 1x2x4 images but the plan expects 3x32x32"});
  expectDataError(
      [&] {
        f.open(Split::Train, {1, 2, 4}, 9);
      },
      {f.dir / "train-labels-idx1-ubyte.gz", "label 9 of sample 2 is outside [0, 9)"});
  writeFile(f.dir / "t10k-labels-idx1-ubyte", idxLabels({1, 2, 3}));
  expectDataError([&] { f.open(Split::Test); },
                  {f.dir / "t10k-images-idx3-ubyte", "has 2 images but", f.dir / "t10k-labels-idx1-ubyte", "3 labels"});
}

TEST(DataIdx, MalformedFilesGetOneLineErrors) {
  IdxFiles f;
  const std::string images = f.dir / "t10k-images-idx3-ubyte", labels = f.dir / "t10k-labels-idx1-ubyte";
  const Bytes good = idxImages(2, 2, 4, 100);
  auto expectBad = [&](const std::string& path, const Bytes& bytes, const std::string& why) {
    writeFile(path, bytes);
    expectDataError([&] { f.open(Split::Test); }, {path, why});
    writeFile(images, good);
    writeFile(labels, idxLabels({1, 2}));
  };
  expectBad(images, Bytes{0, 0, 8, 1, 0, 0, 0, 0}, "bad magic, expected 0x00000803");
  expectBad(images, Bytes{0, 0, 0x0d, 3, 0, 0, 0, 0}, "bad magic");
  expectBad(labels, idxImages(2, 2, 4, 0), "bad magic, expected 0x00000801");
  expectBad(images, Bytes(good.begin(), good.begin() + 10), "truncated IDX header");
  expectBad(images, Bytes(good.begin(), good.end() - 1), "truncated");
  Bytes longer = good;
  longer.push_back(7);
  expectBad(images, longer, "1 bytes after the data");
  Bytes huge = {0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255};
  expectBad(images, huge, "truncated");
  expectBad(images, idxImages(0, 2, 4, 0), "holds no images");
  expectBad(images, {}, "bad magic");
}

TEST(DataIdx, TruncatedOrCorruptGzipGetsAnError) {
  IdxFiles f;
  const std::string gz = f.dir / "train-images-idx3-ubyte.gz";
  const Bytes good = readFileBytes(gz);
  writeFile(gz, Bytes(good.begin(), good.end() - 12));
  expectDataError([&] { f.open(); }, {gz, "truncated or corrupt gzip"});
  Bytes badCrc = good;
  badCrc[badCrc.size() - 6] ^= 1;
  writeFile(gz, badCrc);
  expectDataError([&] { f.open(); }, {gz, "truncated or corrupt gzip"});
  // Every prefix: a clean error, never a crash.
  for (size_t n = 0; n < good.size(); ++n) {
    writeFile(gz, Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
    expectDataError([&] { f.open(); }, {gz});
  }
}

// The main job's data, from the dataset-fashion-mnist Debian package (scripts/setup.sh
// installs it, so its absence is a failure).
TEST(DataIdx, FashionMnistLoads) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  ASSERT_TRUE(std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"))
      << "dataset-fashion-mnist is not installed; run scripts/setup.sh";
  for (const Split split : {Split::Train, Split::Test}) {
    auto data = openDataset("idx:" + dir, split, {1, 28, 28}, 10, 0);
    const int64_t n = split == Split::Train ? 60000 : 10000;
    ASSERT_EQ(data->size(), n);
    EXPECT_EQ(data->sampleShape(), (std::array<int64_t, 3>{1, 28, 28}));
    EXPECT_EQ(data->numClasses(), 10);
    EXPECT_EQ(data->describe(), "idx:" + dir + (split == Split::Train ? " (train, 60000" : " (test, 10000") +
                                    " images 1x28x28, 10 classes)");
    std::vector<int64_t> perClass(10);
    std::vector<float> img(784);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      ++perClass[static_cast<size_t>(data->get(i, img.data()))];
      if (i % 97 == 0) sum += std::accumulate(img.begin(), img.end(), 0.0);
    }
    for (int64_t c : perClass) EXPECT_EQ(c, n / 10);  // Fashion-MNIST is balanced
    EXPECT_GT(sum, 0.0);
  }
  auto train = openDataset("idx:" + dir, Split::Train, {1, 28, 28}, 10, 0);
  std::vector<float> img(784);
  EXPECT_EQ(train->get(0, img.data()), 9);  // the first training image is an ankle boot
  EXPECT_TRUE(std::all_of(img.begin(), img.end(), [](float v) { return v >= 0.0f && v <= 1.0f; }));

  // Pixels agree with Python's own reading of the file.
  TempDir tmp;
  const std::string script =
      "import gzip, sys\n"
      "b = gzip.open(sys.argv[1] + '/t10k-images-idx3-ubyte.gz').read()\n"
      "open(sys.argv[2], 'wb').write(b[16 + 784 * 1234:16 + 784 * 1235])\n";
  writeFile(tmp / "read.py", Bytes(script.begin(), script.end()));
  ASSERT_EQ(std::system(("/usr/bin/python3 " + (tmp / "read.py") + " " + dir + " " + (tmp / "img")).c_str()), 0);
  const Bytes expected = readFileBytes(tmp / "img");
  ASSERT_EQ(expected.size(), 784u);
  openDataset("idx:" + dir, Split::Test, {1, 28, 28}, 10, 0)->get(1234, img.data());
  for (size_t i = 0; i < 784; ++i) EXPECT_EQ(img[i], static_cast<float>(expected[i]) / 255.0f);
  expectDataError(
      [&] {
        openDataset("idx:" + dir, Split::Train, {3, 32, 32}, 10, 0);
      },
      {"data: " + dir + "/train-images-idx3-ubyte.gz has 1x28x28 images but the plan expects 3x32x32"});
}

}  // namespace
}  // namespace lrc::data
