// folder:DIR for a segmentation plan: DIR/images/<name>.<ext> with DIR/masks/<name>.png whose
// pixel values are class ids: palette PNGs written by PIL as VOC's masks are (their indices,
// 255 the ignored border) and grayscale PNGs (8 and 16 bits) load exactly; a missing masks
// folder or mask, an RGB mask, a mask of another size and a class id >= K are one-line
// errors naming the file.
#include <algorithm>
#include <cmath>
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

// a.png in images/ and masks/, 8-bit grayscale, the mask w x h unless given its own size.
void writePair(const TempDir& dir, int w, int h, const Bytes& image, const Bytes& mask, int maskW = 0, int maskH = 0) {
  writeFile(dir / "images/a.png", pngFile(w, h, 0, 8, image));
  writeFile(dir / "masks/a.png", pngFile(maskW ? maskW : w, maskH ? maskH : h, 0, 8, mask));
}

// The folder data set for a plan of input `plan` (C,H,W) labelling H x W, ignore index 255,
// with transforms.
std::unique_ptr<Dataset> openForPlan(const TempDir& dir, const Shape& plan, int64_t classes) {
  return openDataset("folder:" + dir.path(), Split::Train, plan, classes, 0, true, PixelLabels{plan[1], plan[2], 255});
}

struct Sample {
  std::vector<float> image;
  std::vector<int64_t> mask;
};

// Sample 0 of `data` through `t` at `epoch`, a plan of `pixels` pixels.
Sample sampleOf(const Transforms& t, const Dataset& data, int64_t epoch, size_t pixels) {
  Scratch scratch;
  Sample s{std::vector<float>(pixels), std::vector<int64_t>(pixels)};
  t.sample(data, 0, epoch, scratch, s.image.data(), s.mask.data());
  return s;
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
  writePair(dir, 3, 2, {1, 2, 3, 4, 5, 6}, {0, 1, 2, 3, 4, 5});
  auto data = openMasks(dir);
  const Transforms flip({{TransformStep::Kind::Flip}}, {}, k1x2x3, 5);
  int flipped = 0;
  for (int64_t epoch = 0; epoch < 16; ++epoch) {
    const Sample s = sampleOf(flip, *data, epoch, 6);
    const bool imageFlipped = s.image[0] == 3.0f / 255.0f;
    EXPECT_EQ(s.mask, imageFlipped ? (std::vector<int64_t>{2, 1, 0, 5, 4, 3}) : (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    flipped += imageFlipped;
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 16);
}

// Resize and crops give the mask its image's geometry with nearest interpolation (labels stay
// labels): doubled, each label covers 2x2 pixels; a center-crop larger than the image pads the
// mask with the ignore index (the image with zeros).
TEST(DataMasks, ResizeAndCropTheMaskWithTheImage) {
  TempDir dir;
  writePair(dir, 3, 2, {10, 20, 30, 40, 50, 60}, {0, 1, 2, 3, 4, 255});
  const Shape doubled{1, 4, 6};
  const Transforms resize(parseTransformList("--t", "resize:4,center-crop"), {}, doubled, 0, 255);
  const Sample resized = sampleOf(resize, *openForPlan(dir, doubled, 5), 0, 24);
  EXPECT_EQ(resized.mask, (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2,  //
                                                3, 3, 4, 4, 255, 255, 3, 3, 4, 4, 255, 255}));
  EXPECT_FLOAT_EQ(resized.image[0], 10.0f / 255.0f);  // bilinear: the corner keeps its value

  const Shape larger{1, 4, 5};
  const Transforms pad(parseTransformList("--t", "center-crop"), {}, larger, 0, 7);
  const Sample padded = sampleOf(pad, *openForPlan(dir, larger, 5), 0, 20);
  EXPECT_EQ(padded.mask, (std::vector<int64_t>{7, 7, 7, 7, 7, 7, 0, 1, 2, 7, 7, 3, 4, 255, 7, 7, 7, 7, 7, 7}));
  EXPECT_EQ(padded.image[0], 0.0f);
  EXPECT_FLOAT_EQ(padded.image[6], 10.0f / 255.0f);
}

// random-resized-crop draws one window for the image and its mask: an image whose pixels are
// its mask's labels (/255) comes out, where the bilinear weights fall on one source pixel
// (a window resized to its own size), equal to its mask; checked over epochs of a crop to 2x2.
TEST(DataMasks, RandomCropDrawsOneWindowForImageAndMask) {
  TempDir dir;
  const Bytes ids{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  writePair(dir, 4, 4, ids, ids);
  const Shape plan{1, 2, 2};
  auto data = openForPlan(dir, plan, 16);
  const Transforms crop(parseTransformList("--t", "random-resized-crop,flip"), {}, plan, 3, 255);
  int exact = 0;
  for (int64_t epoch = 0; epoch < 64; ++epoch) {
    const Sample s = sampleOf(crop, *data, epoch, 4);
    // A 2x2 window: the image is its pixels exactly, and so must the mask be.
    const bool pixelsExact =
        std::all_of(s.image.begin(), s.image.end(), [](float v) { return v * 255 == std::round(v * 255); });
    if (!pixelsExact) continue;
    ++exact;
    for (size_t i = 0; i < 4; ++i)
      EXPECT_EQ(s.mask[i], std::lround(s.image[i] * 255)) << "epoch " << epoch << " pixel " << i;
  }
  EXPECT_GT(exact, 0);
}

TEST(DataMasks, MaskOfAnotherSizeThanItsImageIsAnError) {
  TempDir dir;
  writePair(dir, 3, 2, {1, 2, 3, 4, 5, 6}, Bytes(6), 2, 3);
  const Shape plan{1, 2, 2};
  auto data = openForPlan(dir, plan, 3);
  const Transforms crop(parseTransformList("--t", "center-crop"), {}, plan, 0, 255);
  expectDataError([&] { sampleOf(crop, *data, 0, 4); },
                  {dir / "masks/a.png", "is a 3x2 mask but " + (dir / "images/a.png") + " has 2x3 pixels"});
}

}  // namespace
}  // namespace lrc::data
