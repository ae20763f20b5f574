// folder:DIR for a segmentation plan: DIR/images/<name>.<ext> with DIR/masks/<name>.png whose
// pixel values are class ids: palette PNGs written by PIL as VOC's masks are (their indices,
// 255 the ignored border) and grayscale PNGs (8 and 16 bits) load exactly; a missing masks
// folder or mask, an RGB mask, a mask of another size and a class id >= K are one-line
// errors naming the file.
#include <cstdlib>

#include "runtime/data/Dataset.h"
#include "runtime/data/Transforms.h"
#include "test/unit/data_test_util.h"

namespace lrc::data {
namespace {

using namespace testing;

constexpr Shape k1x2x3{1, 2, 3};

std::unique_ptr<Dataset> openMasks(const TempDir& dir, int64_t classes = 21, int64_t ignore = 255) {
  return openDataset("folder:" + dir.path(), Split::Train, k1x2x3, classes, 0, false, PixelLabels{2, 3, ignore});
}

void writeImages(const TempDir& dir, std::initializer_list<const char*> names) {
  for (const char* name : names) writeFile(dir / ("images/" + std::string(name)), pngFile(3, 2, 0, 8, {1, 2, 3, 4, 5, 6}));
}

std::vector<int64_t> maskOf(const Dataset& data, int64_t index) {
  std::vector<int64_t> m(static_cast<size_t>(data.maskPixels()));
  data.getMask(index, m.data());
  return m;
}

TEST(DataMasks, PaletteAndGrayscaleMasksGiveClassIds) {
  TempDir dir;
  writeImages(dir, {"a.png", "b.png", "c.pgm"});
  const std::string script =
      "import sys\n"
      "from PIL import Image\n"
      "m = Image.new('P', (3, 2))\n"
      "m.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [224, 224, 192] * 253)\n"
      "m.putdata([0, 1, 2, 255, 20, 1])\n"
      "m.save(sys.argv[1] + '/masks/a.png')\n";
  writeFile(dir / "make.py", Bytes(script.begin(), script.end()));
  writeFile(dir / "masks/keep", {});
  ASSERT_EQ(std::system(("/usr/bin/python3 " + (dir / "make.py") + " " + dir.path()).c_str()), 0);
  writeFile(dir / "masks/b.png", pngFile(3, 2, 0, 8, {3, 3, 0, 0, 255, 7}));
  writeFile(dir / "masks/c.png", pngFile(3, 2, 0, 16, {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 0xff}));
  auto data = openMasks(dir);
  ASSERT_EQ(data->size(), 3);
  EXPECT_EQ(data->maskPixels(), 6);
  EXPECT_EQ(maskOf(*data, 0), (std::vector<int64_t>{0, 1, 2, 255, 20, 1}));
  EXPECT_EQ(maskOf(*data, 1), (std::vector<int64_t>{3, 3, 0, 0, 255, 7}));
  EXPECT_EQ(maskOf(*data, 2), (std::vector<int64_t>{1, 2, 3, 4, 5, 255}));
  std::vector<float> img(6);
  data->get(1, img.data());
  EXPECT_EQ(img[5], 6.0f / 255.0f);
  EXPECT_NE(data->describe().find("PNG masks"), std::string::npos) << data->describe();
}

TEST(DataMasks, ErrorsNameTheFile) {
  TempDir dir;
  writeImages(dir, {"a.png", "b.png"});
  expectDataError([&] { openMasks(dir); }, {dir / "masks", "images/<name>.<ext> with masks/<name>.png"});
  writeFile(dir / "masks/a.png", pngFile(3, 2, 0, 8, {0, 1, 2, 3, 4, 21}));
  expectDataError([&] { openMasks(dir); }, {dir / "images/b.png", "has no mask: expected " + (dir / "masks/b.png")});
  writeFile(dir / "masks/b.png", pngFile(2, 3, 0, 8, Bytes(6)));
  auto data = openMasks(dir);
  std::vector<int64_t> m(6);
  expectDataError([&] { data->getMask(0, m.data()); },
                  {dir / "masks/a.png", "label 21 at pixel 1,2 is outside [0, 21), the plan's classes, and is not the "
                                        "ignore index 255"});
  expectDataError([&] { data->getMask(1, m.data()); }, {dir / "masks/b.png", "is a 3x2 mask but the plan labels 2x3"});
  writeFile(dir / "masks/b.png", pngFile(3, 2, 2, 8, Bytes(18)));
  expectDataError([&] { data->getMask(1, m.data()); }, {dir / "masks/b.png", "palette or grayscale PNG"});
  writeFile(dir / "masks/b.png", Bytes{'n', 'o', 'p', 'e', 0, 0, 0, 0, 0});
  expectDataError([&] { data->getMask(1, m.data()); }, {dir / "masks/b.png", "not a PNG"});
}

// A flip moves the mask with the image: over several epochs each sample comes out flipped in
// some and not in others, its mask always the same way as its image.
TEST(DataMasks, FlipFlipsTheMaskWithTheImage) {
  TempDir dir;
  writeFile(dir / "images/a.png", pngFile(3, 2, 0, 8, {1, 2, 3, 4, 5, 6}));
  writeFile(dir / "masks/a.png", pngFile(3, 2, 0, 8, {0, 1, 2, 3, 4, 5}));
  auto data = openMasks(dir);
  const Transforms flip({{TransformStep::Kind::Flip}}, {}, k1x2x3, 5);
  Scratch scratch;
  int flipped = 0;
  for (int64_t epoch = 0; epoch < 16; ++epoch) {
    std::vector<float> img(6);
    std::vector<int64_t> mask(6);
    flip.sample(*data, 0, epoch, scratch, img.data(), mask.data());
    const bool imageFlipped = img[0] == 3.0f / 255.0f;
    EXPECT_EQ(mask, imageFlipped ? (std::vector<int64_t>{2, 1, 0, 5, 4, 3}) : (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    flipped += imageFlipped;
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 16);
}

}  // namespace
}  // namespace lrc::data
