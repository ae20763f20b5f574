// Transforms (runtime/data/Transforms.h): the step list's syntax and its one-line errors,
// RandomResizedCrop's windows, and data of any size opened for a resizing list. The pixel
// operations themselves are checked against torchvision by test/transforms.
#include <cmath>

#include "runtime/data/ImageOps.h"
#include "runtime/data/Transforms.h"
#include "test/unit/data_test_util.h"

namespace lrc::data {
namespace {

using namespace testing;
using Kind = TransformStep::Kind;

void expectFlagError(const std::string& list, const std::vector<std::string>& parts) {
  expectOneLineError<std::invalid_argument>([&] { parseTransformList("--train-transform", list); },
                                            "--train-transform: ", parts);
}

TEST(DataTransforms, ListsParseAndPrintBack) {
  const std::vector<TransformStep> steps = parseTransformList("--t", "resize:40,random-resized-crop,flip");
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0], (TransformStep{Kind::Resize, 40}));
  EXPECT_EQ(steps[1], (TransformStep{Kind::RandomResizedCrop}));
  EXPECT_EQ(steps[2], (TransformStep{Kind::Flip}));
  EXPECT_EQ(transformListText(steps), "resize:40,random-resized-crop,flip");
  EXPECT_TRUE(changesSize(steps));
  EXPECT_FALSE(changesSize(parseTransformList("--t", "flip")));
  EXPECT_EQ(transformListText(evaluationSteps(steps)), "resize,center-crop");
  EXPECT_TRUE(evaluationSteps(parseTransformList("--t", "flip")).empty());
}

TEST(DataTransforms, BadListsAreOneLineErrors) {
  expectFlagError("rotate", {"unknown transform 'rotate'", "resize[:S], center-crop, random-resized-crop or flip"});
  expectFlagError("flip,", {"unknown transform ''"});
  expectFlagError("", {"unknown transform ''"});
  expectFlagError("resize:0,center-crop", {"'resize:0' expects a positive size"});
  expectFlagError("resize:x,center-crop", {"'resize:x' expects a positive size"});
  expectFlagError("resize:1234567,center-crop", {"positive size"});
  expectFlagError("center-crop:3", {"'center-crop:3' takes no argument"});
  expectFlagError("resize", {"'resize' ends with a resize", "center-crop or random-resized-crop"});
  expectFlagError("center-crop,resize:8,flip", {"ends with a resize"});
}

// Windows stay inside the image, and their area and aspect ratio are the ones asked for up to
// the rounding of w and h to whole pixels.
TEST(DataTransforms, RandomResizedCropWindowsFollowScaleAndRatio) {
  SplitMix64 rng{42};
  int64_t smallest = INT64_MAX, largest = 0;
  for (int i = 0; i < 2000; ++i) {
    const Window w = randomResizedCropWindow(60, 80, rng);
    ASSERT_GE(w.top, 0);
    ASSERT_GE(w.left, 0);
    ASSERT_GE(w.height, 1);
    ASSERT_GE(w.width, 1);
    ASSERT_LE(w.top + w.height, 60);
    ASSERT_LE(w.left + w.width, 80);
    // w = round(sqrt(a r)), h = round(sqrt(a / r)): (w - 1/2)(h - 1/2) <= a <= (w + 1/2)(h + 1/2).
    const double low = (w.width - 0.5) * (w.height - 0.5), high = (w.width + 0.5) * (w.height + 0.5);
    EXPECT_LE(low, 4800 * 1.0 + 1e-9);
    EXPECT_GE(high, 4800 * 0.08 - 1e-9);
    EXPECT_LE((w.width - 0.5) / (w.height + 0.5), 4.0 / 3.0 + 1e-9);
    EXPECT_GE((w.width + 0.5) / (w.height - 0.5), 3.0 / 4.0 - 1e-9);
    smallest = std::min(smallest, w.height * w.width);
    largest = std::max(largest, w.height * w.width);
  }
  EXPECT_LT(smallest, 4800 * 0.1);  // the range is used, not one size
  EXPECT_GT(largest, 4800 * 0.9);
}

// No try can fit a 1-pixel-high image (h >= round(sqrt(0.08 * 40 * 3/4)) = 2): the fallback
// is the centered crop of the widest allowed ratio, as torchvision computes it.
TEST(DataTransforms, RandomResizedCropFallsBackToTheCenter) {
  SplitMix64 rng{7};
  EXPECT_EQ(randomResizedCropWindow(1, 40, rng), (Window{0, 19, 1, 1}));
  EXPECT_EQ(randomResizedCropWindow(40, 1, rng), (Window{19, 0, 1, 1}));
}

// A folder of 3-channel images of two sizes.
struct MixedFolder {
  TempDir dir;
  MixedFolder() {
    writeFile(dir / "a/1.ppm", pnmFile(3, 4, 2, 255, Bytes(24, 7)));
    writeFile(dir / "b/2.ppm", pnmFile(3, 5, 3, 255, Bytes(45, 9)));
  }
};

TEST(DataTransforms, AResizingListOpensImagesOfAnySize) {
  MixedFolder f;
  const std::string spec = "folder:" + f.dir.path();
  // Without a resizing transform the plan's size is still required (SPEC.md §4).
  expectDataError(
      [&] {
        openDataset(spec, Split::Train, {3, 4, 4}, 2, 0);
      },
      {"1.ppm has 3x2x4 pixels but the plan expects 3x4x4", "not resized without a resize or crop transform"});
  auto data = openDataset(spec, Split::Train, {3, 4, 4}, 2, 0, /*anySize=*/true);
  EXPECT_EQ(data->sampleShape(), (Shape{3, 0, 0}));
  EXPECT_EQ(data->describe(), spec + " (2 images 3xHxW of various sizes, 2 classes)");
  Image image;
  EXPECT_EQ(data->read(1, image), 1);
  EXPECT_EQ(image.shape, (Shape{3, 3, 5}));
  EXPECT_EQ(image.pixels[44], 9 / 255.0f);

  // Each image comes out at the plan's size.
  const Transforms transforms(parseTransformList("--t", "resize:4,center-crop"), {}, {3, 4, 4}, 0);
  Scratch scratch;
  std::vector<float> out(48, -1.0f);
  EXPECT_EQ(transforms.sample(*data, 0, 0, scratch, out.data()), 0);
  for (const float v : out) EXPECT_FLOAT_EQ(v, 7 / 255.0f);

  // Channels are never converted.
  expectDataError(
      [&] {
        openDataset(spec, Split::Train, {1, 4, 4}, 2, 0, true);
      },
      {"1.ppm has 3x2x4 images but the plan expects 1 channels"});
}

TEST(DataTransforms, ArrayDataOfAnotherSizeKeepsItsOwnShape) {
  TempDir dir;
  writeFile(dir / "x.npy", npyFile("|u1", {2, 1, 3, 5}, Bytes(30, 51)));
  writeFile(dir / "y.npy", npyFile("|u1", {2}, Bytes{0, 1}));
  const std::string spec = "npy:" + (dir / "x.npy") + "," + (dir / "y.npy");
  auto data = openDataset(spec, Split::Train, {1, 8, 8}, 2, 0, true);
  EXPECT_EQ(data->sampleShape(), (Shape{1, 3, 5}));
  expectDataError(
      [&] {
        openDataset(spec, Split::Train, {1, 8, 8}, 2, 0);
      },
      {"has 1x3x5 images but the plan expects 1x8x8"});
  // An empty image cannot be resized.
  writeFile(dir / "e.npy", npyFile("|u1", {2, 1, 0, 5}, Bytes{}));
  expectDataError(
      [&] {
        openDataset("npy:" + (dir / "e.npy") + "," + (dir / "y.npy"), Split::Train, {1, 8, 8}, 2, 0, true);
      },
      {"has 1x0x5 images; expected at least 1x1"});
}

TEST(DataTransforms, NormalizationComesLastAndDescribesItself) {
  const Transforms none({}, {}, {3, 2, 2}, 0);
  EXPECT_EQ(none.describe(), "none");
  EXPECT_FALSE(none.changesSize());
  const Transforms t(parseTransformList("--t", "random-resized-crop,flip"), imagenetNormalization(), {3, 2, 2}, 0);
  EXPECT_EQ(t.describe(), "random-resized-crop,flip, normalize mean 0.485,0.456,0.406 std 0.229,0.224,0.225");
  EXPECT_THROW(Transforms({}, imagenetNormalization(), {1, 2, 2}, 0), std::logic_error);
}

}  // namespace
}  // namespace lrc::data
