// npy:X.npy,Y.npy — arrays written here and by NumPy itself load with exact pixels and
// labels; every malformed file gets a one-line error naming it, never a crash.
#include <cmath>

#include "runtime/data/Dataset.h"
#include "test/unit/data_test_util.h"

namespace lrc::data {
namespace {

using namespace testing;

constexpr std::array<int64_t, 3> k1x2x3{1, 2, 3};

std::unique_ptr<Dataset> openNpy(const std::string& x, const std::string& y, std::array<int64_t, 3> shape = k1x2x3,
                                 int64_t classes = 10) {
  return openDataset("npy:" + x + "," + y, Split::Train, shape, classes, 0);
}

// Two 1x2x3 uint8 images (pixel i of image n = 10 * n + i) with int64 labels 7, 2.
struct U8Files {
  TempDir dir;
  std::string x = dir / "x.npy", y = dir / "y.npy";
  U8Files() {
    Bytes pixels;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 6; ++i) pixels.push_back(static_cast<uint8_t>(10 * n + i));
    writeFile(x, npyFile("|u1", {2, 2, 3}, pixels));
    writeFile(y, npyFile("<i8", {2}, bytesOf(std::vector<int64_t>{7, 2})));
  }
};

TEST(DataNpy, Uint8ImagesAreScaledBy255) {
  U8Files f;
  auto data = openNpy(f.x, f.y);
  EXPECT_EQ(data->size(), 2);
  EXPECT_EQ(data->sampleShape(), k1x2x3);
  EXPECT_EQ(data->numClasses(), 10);
  std::vector<float> img(6);
  EXPECT_EQ(data->get(1, img.data()), 2);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(img[i], static_cast<float>(10 + i) / 255.0f);
  EXPECT_EQ(data->get(0, img.data()), 7);
  EXPECT_EQ(img[5], 5.0f / 255.0f);
  EXPECT_EQ(data->describe(), "npy:" + f.x + "," + f.y + " (2 images 1x2x3, 10 classes, uint8 /255)");
}

TEST(DataNpy, Float32ChwImagesAreTakenAsIsWithInt32OrUint8Labels) {
  TempDir dir;
  std::vector<float> pixels(3 * 2 * 2 * 2);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = -1.5f + 0.25f * static_cast<float>(i);
  writeFile(dir / "x.npy", npyFile("<f4", {3, 2, 2, 2}, bytesOf(pixels)));
  writeFile(dir / "y32.npy", npyFile("<i4", {3}, bytesOf(std::vector<int32_t>{0, 4, 1})));
  writeFile(dir / "y8.npy", npyFile("|u1", {3}, {3, 0, 4}));
  const std::array<int64_t, 3> shape{2, 2, 2};
  auto data = openNpy(dir / "x.npy", dir / "y32.npy", shape, 5);
  std::vector<float> img(8);
  EXPECT_EQ(data->get(1, img.data()), 4);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(img[i], pixels[8 + i]);
  EXPECT_EQ(openNpy(dir / "x.npy", dir / "y8.npy", shape, 5)->get(2, img.data()), 4);
  EXPECT_EQ(img[7], pixels[23]);
}

// A NaN or infinite pixel would turn the loss of every batch holding it into NaN; it is
// refused when the file is opened, naming the file, the sample and the element.
TEST(DataNpy, NonFinitePixelsAreRefused) {
  TempDir dir;
  writeFile(dir / "y.npy", npyFile("<i8", {3}, bytesOf(std::vector<int64_t>{0, 1, 2})));
  const std::array<int64_t, 3> shape{2, 2, 2};
  const float bad[] = {std::nanf(""), INFINITY, -INFINITY};
  const char* named[] = {"(nan at element 5)", "(inf at element 5)", "(-inf at element 5)"};
  for (int k = 0; k < 3; ++k) {
    std::vector<float> pixels(3 * 8, 0.5f);
    pixels[8 + 5] = bad[k];
    const std::string x = dir / (std::to_string(k) + ".npy");
    writeFile(x, npyFile("<f4", {3, 2, 2, 2}, bytesOf(pixels)));
    expectDataError([&] { openNpy(x, dir / "y.npy", shape, 5); }, {x + ": sample 1 has a non-finite pixel", named[k]});
  }
}

TEST(DataNpy, ReadsFilesNumpyWrites) {
  TempDir dir;
  const std::string script =
      "import numpy as np, sys\n"
      "d = sys.argv[1]\n"
      "x = (np.arange(4 * 3 * 5 * 6) % 251).astype(np.uint8).reshape(4, 3, 5, 6)\n"
      "np.save(d + '/x.npy', x)\n"
      "np.save(d + '/xf.npy', x.astype(np.float32) / 7)\n"
      "np.save(d + '/y.npy', np.array([3, 1, 0, 2], dtype=np.int64))\n"
      "with open(d + '/x2.npy', 'wb') as f: np.lib.format.write_array(f, x, version=(2, 0))\n"
      "with open(d + '/y3.npy', 'wb') as f: np.lib.format.write_array(f, np.array([3, 1, 0, 2], np.int32), "
      "version=(3, 0))\n";
  writeFile(dir / "make.py", Bytes(script.begin(), script.end()));
  ASSERT_EQ(std::system(("/usr/bin/python3 " + (dir / "make.py") + " " + dir.path()).c_str()), 0);

  const std::array<int64_t, 3> shape{3, 5, 6};
  std::vector<float> img(90);
  for (const char* x : {"x.npy", "x2.npy"}) {
    for (const char* y : {"y.npy", "y3.npy"}) {
      auto data = openNpy(dir / x, dir / y, shape, 4);
      ASSERT_EQ(data->size(), 4);
      EXPECT_EQ(data->get(2, img.data()), 0);
      for (int i = 0; i < 90; ++i) EXPECT_EQ(img[i], static_cast<float>((180 + i) % 251) / 255.0f) << x << " " << i;
    }
  }
  auto floats = openNpy(dir / "xf.npy", dir / "y.npy", shape, 4);
  EXPECT_EQ(floats->get(3, img.data()), 2);
  for (int i = 0; i < 90; ++i) EXPECT_EQ(img[i], static_cast<float>((270 + i) % 251) / 7.0f);
}

TEST(DataNpy, SplitIsIgnored) {
  U8Files f;
  auto test = openDataset("npy:" + f.x + "," + f.y, Split::Test, k1x2x3, 10, 0);
  EXPECT_EQ(test->size(), 2);
}

TEST(DataNpy, MissingFilesAreNamed) {
  U8Files f;
  expectDataError([&] { openNpy(f.dir / "nope.npy", f.y); }, {"nope.npy", "cannot open"});
  expectDataError([&] { openNpy(f.x, f.dir / "nolabels.npy"); }, {"nolabels.npy", "cannot open"});
  expectDataError([&] { openNpy(f.dir.path(), f.y); }, {f.dir.path(), "directory"});
}

TEST(DataNpy, ImageShapeMustMatchThePlan) {
  U8Files f;
  expectDataError(
      [&] {
        openNpy(f.x, f.y, {3, 32, 32});
      },
      {"data: " + f.x + " has 1x2x3 images but the plan expects 3x32x32"});
  writeFile(f.x, npyFile("|u1", {2, 6}, Bytes(12)));
  expectDataError([&] { openNpy(f.x, f.y); }, {f.x, "(2, 6)", "N,C,H,W or N,H,W"});
}

TEST(DataNpy, WrongDtypesAreRefused) {
  U8Files f;
  writeFile(f.dir / "f8.npy", npyFile("<f8", {2, 2, 3}, Bytes(96)));
  expectDataError([&] { openNpy(f.dir / "f8.npy", f.y); }, {"f8.npy", "'<f8'", "float32 or uint8"});
  writeFile(f.dir / "be.npy", npyFile(">f4", {2, 2, 3}, Bytes(48)));
  expectDataError([&] { openNpy(f.dir / "be.npy", f.y); }, {"be.npy", "big-endian"});
  writeFile(f.dir / "i2.npy", npyFile("<i2", {2}, Bytes(4)));
  expectDataError([&] { openNpy(f.x, f.dir / "i2.npy"); }, {"i2.npy", "'<i2'", "int64, int32 or uint8"});
  writeFile(f.dir / "f4.npy", npyFile("<f4", {2}, Bytes(8)));
  expectDataError([&] { openNpy(f.x, f.dir / "f4.npy"); }, {"f4.npy", "'<f4'"});
}

TEST(DataNpy, LabelsMustMatchTheImagesAndThePlansClasses) {
  U8Files f;
  writeFile(f.y, npyFile("<i8", {3}, bytesOf(std::vector<int64_t>{1, 2, 3})));
  expectDataError([&] { openNpy(f.x, f.y); }, {f.x + " has 2 images but " + f.y + " has 3 labels"});
  writeFile(f.y, npyFile("<i8", {2}, bytesOf(std::vector<int64_t>{1, 10})));
  expectDataError([&] { openNpy(f.x, f.y); }, {f.y, "label 10 of sample 1 is outside [0, 10)"});
  writeFile(f.y, npyFile("<i4", {2}, bytesOf(std::vector<int32_t>{-1, 0})));
  expectDataError([&] { openNpy(f.x, f.y); }, {f.y, "label -1 of sample 0"});
  writeFile(f.y, npyFile("<i8", {2, 1}, Bytes(16)));
  expectDataError([&] { openNpy(f.x, f.y); }, {f.y, "(2, 1)", "(N,)"});
}

TEST(DataNpy, MalformedFilesGetOneLineErrors) {
  U8Files f;
  const Bytes good = readFileBytes(f.x);
  const std::string bad = f.dir / "bad.npy";
  auto expectBad = [&](Bytes bytes, const std::string& why) {
    writeFile(bad, bytes);
    expectDataError([&] { openNpy(bad, f.y); }, {bad, why});
  };
  expectBad(Bytes{'P', 'K', 3, 4}, "bad magic");
  Bytes v9 = good;
  v9[6] = 9;
  expectBad(v9, "version 9");
  expectBad(Bytes(good.begin(), good.begin() + 40), "truncated .npy header");
  expectBad(Bytes(good.begin(), good.end() - 1), "truncated");
  Bytes longer = good;
  longer.push_back(0);
  expectBad(longer, "1 bytes after the data");
  expectBad(npyFile("|u1", {0, 2, 3}, {}), "holds no images");

  auto withHeader = [&](const std::string& dict) {
    const std::string file = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size()) + '\0' + dict;
    return Bytes(file.begin(), file.end());
  };
  expectBad(withHeader("{'descr': '|u1', 'fortran_order': True, 'shape': (1, 1, 1), }\n"), "Fortran");
  expectBad(withHeader("{'descr': '|u1', 'shape': (1, 1, 1)"), "malformed .npy header");
  expectBad(withHeader("{'descr': '|u1', 'fortran_order': Maybe, 'shape': (1,)}"), "True or False");
  expectBad(withHeader("{'descr': '|u1', 'shape': (1, x)}"), "expected a dimension");
  expectBad(withHeader("{'descr': '|u1', 'shape': (99999999999999999999,)}"), "too large");
  expectBad(withHeader("{'descr': '|u1', 'shape': (4294967296, 4294967296, 4294967296)}"), "too large");
  expectBad(withHeader("{'descr': '|u1'}"), "no 'descr' or no 'shape'");
  expectBad(withHeader("{'descr': '|u1', 'shape': (1,), 'extra': 1}"), "unknown key 'extra'");
  expectBad(withHeader("{'descr: '|u1'}"), "malformed .npy header");
}

// Every prefix of a valid file and many single-byte corruptions give a clean error or a
// valid data set, never a crash.
TEST(DataNpy, TruncatedAndCorruptedFilesNeverCrash) {
  U8Files f;
  const Bytes x = readFileBytes(f.x), y = readFileBytes(f.y);
  const std::string bx = f.dir / "bx.npy", by = f.dir / "by.npy";
  writeFile(by, y);
  for (size_t n = 0; n < x.size(); ++n) {
    writeFile(bx, Bytes(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n)));
    expectDataError([&] { openNpy(bx, by); }, {bx});
  }
  std::vector<float> img(6);
  for (size_t i = 0; i < x.size(); ++i) {
    for (const uint8_t v : {0x00, 0x20, 0x27, 0x29, 0x2c, 0x39, 0xff}) {
      Bytes corrupt = x;
      corrupt[i] = v;
      writeFile(bx, corrupt);
      expectCleanOutcome([&] { openNpy(bx, by)->get(1, img.data()); }, "byte " + std::to_string(i));
    }
  }
  for (size_t i = 0; i < y.size(); ++i) {
    Bytes corrupt = y;
    corrupt[i] ^= 0x5a;
    writeFile(by, corrupt);
    expectCleanOutcome([&] { openNpy(f.x, by)->get(1, img.data()); }, "label byte " + std::to_string(i));
  }
}

// ---- label maps (a segmentation plan: PixelLabels) ----

// Two 1x2x3 images with label maps [2,2,3] of dtype `descr`, one pixel of each at 255.
void writeMasks(const TempDir& dir, const std::string& descr, const Bytes& maps) {
  writeFile(dir / "x.npy", npyFile("|u1", {2, 2, 3}, Bytes(12, 7)));
  writeFile(dir / "m.npy", npyFile(descr, {2, 2, 3}, maps));
}

std::unique_ptr<Dataset> openMasks(const TempDir& dir, int64_t classes = 4, int64_t ignore = 255) {
  return openDataset("npy:" + (dir / "x.npy") + "," + (dir / "m.npy"), Split::Train, k1x2x3, classes, 0, false,
                     PixelLabels{2, 3, ignore});
}

TEST(DataNpy, LabelMapsOfEveryIntegerTypeLoadPerPixel) {
  const std::vector<int64_t> want = {0, 1, 2, 3, 255, 1, 3, 3, 255, 0, 0, 2};
  Bytes u8;
  std::vector<int32_t> i32;
  for (int64_t v : want) {
    u8.push_back(static_cast<uint8_t>(v));
    i32.push_back(static_cast<int32_t>(v));
  }
  for (const auto& [descr, bytes] : std::vector<std::pair<std::string, Bytes>>{
           {"|u1", u8}, {"<i4", bytesOf(i32)}, {"<i8", bytesOf(want)}}) {
    TempDir dir;
    writeMasks(dir, descr, bytes);
    auto data = openMasks(dir);
    EXPECT_EQ(data->size(), 2) << descr;
    EXPECT_EQ(data->maskPixels(), 6) << descr;
    std::vector<int64_t> mask(6);
    data->getMask(1, mask.data());
    EXPECT_EQ(mask, std::vector<int64_t>(want.begin() + 6, want.end())) << descr;
    data->getMask(0, mask.data());
    EXPECT_EQ(mask, std::vector<int64_t>(want.begin(), want.begin() + 6)) << descr;
    EXPECT_NE(data->describe().find("label maps"), std::string::npos) << data->describe();
  }
}

TEST(DataNpy, LabelMapErrorsNameTheFile) {
  TempDir dir;
  const std::string m = dir / "m.npy";
  // A class id >= K that is not the ignore index.
  writeMasks(dir, "<i8", bytesOf(std::vector<int64_t>{0, 1, 2, 3, 255, 1, 3, 4, 255, 0, 0, 2}));
  expectDataError([&] { openMasks(dir); },
                  {m, "label 4 of sample 1 (pixel 0,1) is outside [0, 4), the plan's classes, and is not the ignore "
                      "index 255"});
  // 255 is a class id error when the ignore index is another.
  expectDataError([&] { openMasks(dir, 5, -100); }, {m, "label 255 of sample 0 (pixel 1,1)"});
  // Per-sample labels (N,) or maps of another size for a plan that labels every pixel.
  writeFile(m, npyFile("<i8", {2}, bytesOf(std::vector<int64_t>{1, 2})));
  expectDataError([&] { openMasks(dir); }, {m, "shape (2,) but the plan labels every pixel: expected label maps (N, 2, 3)"});
  writeFile(m, npyFile("<i8", {2, 3, 2}, bytesOf(std::vector<int64_t>(12, 0))));
  expectDataError([&] { openMasks(dir); }, {m, "shape (2, 3, 2) but the plan labels every pixel"});
  // Other kinds of data have no masks yet.
  expectDataError([&] { openDataset("synthetic", Split::Train, k1x2x3, 4, 0, false, PixelLabels{2, 3, 255}); },
                  {"the plan labels every pixel", "npy:X.npy,Y.npy"});
}

}  // namespace
}  // namespace lrc::data
