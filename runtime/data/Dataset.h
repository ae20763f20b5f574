// Training data for lrc-run: the data sets `--data SPEC` names. BatchLoader.h cuts them into
// batches, Transforms.h resizes, crops, flips and normalizes their images.
//
// SPEC (SPEC.md §3):
//   npy:X.npy,Y.npy  X: float32 (taken as is; a NaN or infinity is refused, naming the
//                    sample) or uint8 (/255), shape N,C,H,W or N,H,W (C=1);
//                    Y: int64, int32 or uint8, shape N; or, for a plan with a label per pixel
//                    (PixelLabels), label maps N,H,W (each value a class or the ignore index).
//                    Little-endian .npy v1/v2/v3, C order.
//                    The split is ignored: pass other files for validation.
//   idx:DIR          DIR/train-images-idx3-ubyte and DIR/train-labels-idx1-ubyte (Train) or
//                    DIR/t10k-* (Test), each plain or gzip-compressed (.gz; the plain file wins
//                    when both exist). Images are 1xHxW; pixels /255.
//   cifar10:DIR      the binary CIFAR-10: DIR/data_batch_1.bin .. data_batch_5.bin (Train),
//                    DIR/test_batch.bin (Test); records of 1 label byte + 3x32x32 pixel bytes; /255.
//   folder:DIR       DIR/<class>/<image>: the classes are DIR's subfolders in byte order of
//                    their names (hidden ones skipped), the images are the files of each class
//                    folder (not its subfolders) named *.png, *.jpg, *.jpeg, *.pgm or *.ppm
//                    (any case), in byte order of their names; other files are ignored. PNG,
//                    JPEG, binary PGM (P5) or PPM (P6), 8 or 16 bits; grayscale gives C=1, RGB
//                    C=3; images with alpha are refused. The split is ignored: pass another
//                    folder for validation.
//                    For a segmentation plan (PixelLabels): DIR/images/<name>.<ext> and
//                    DIR/masks/<name>.png, a palette or grayscale PNG of class ids per image
//                    (VOC's SegmentationClass layout; runtime/data/MaskFile.h).
//   synthetic        reproducible random data of the plan's shape: 1024 samples for Train, 256
//                    for Test; labels uniform in [0, classes); pixels = a fixed +-0.5 pattern
//                    per class plus unit-variance noise (mean of the sum of four uniforms), so a
//                    model can learn it. Depends on (seed, split, index) only.
//
// Pixels are scaled to [0, 1] (/255, /maxval for 16-bit PGM/PPM, float32 npy as is); any
// normalization or augmentation is the Transforms' (Transforms.h).
//
// Every problem with the files throws std::runtime_error with a one-line message that starts
// with "data: " and names the file and what was expected. `shape` (C,H,W) and `classes` are
// what the plan expects: `synthetic` makes data of that shape; every other kind checks the
// images against the shape and every label against [0, classes) when opened. With
// `anySize` (a transform resizes or crops the images to the plan's size) only the channels
// are checked: images are never converted between grayscale and RGB. A folder must have
// exactly `classes` class folders, since its labels are their positions.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lrc::data {

enum class Split { Train, Test };

using Shape = std::array<int64_t, 3>;  // C, H, W

// A float CHW image whose buffer is reused from one image to the next.
struct Image {
  Shape shape{};
  std::vector<float> pixels;
  // Makes the image `s` and returns its (uninitialized) pixels.
  float* reshape(const Shape& s) {
    shape = s;
    pixels.resize(static_cast<size_t>(s[0] * s[1] * s[2]));
    return pixels.data();
  }
};

// A sample's label map (class ids, row by row) at its own size; the buffer is reused.
struct LabelMap {
  int64_t height = 0, width = 0;
  std::vector<int64_t> ids;
  int64_t* reshape(int64_t h, int64_t w) {
    height = h;
    width = w;
    ids.resize(static_cast<size_t>(h * w));
    return ids.data();
  }
};

// A segmentation plan's labels (its loss is pixel_xent): an H x W map of class ids per sample,
// where ignoreIndex marks pixels the loss leaves out.
struct PixelLabels {
  int64_t height = 0, width = 0;
  int64_t ignoreIndex = -100;
};

// Samples are float32 CHW images and int64 labels (or label maps: maskPixels() > 0). get() and read() are const and thread-safe.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // C, H, W of every image; H = W = 0 when the images differ in size (a folder opened with
  // `anySize`), which only read() can then give.
  virtual Shape sampleShape() const = 0;
  virtual int64_t numClasses() const = 0;
  // Writes sample `index`'s C*H*W pixels (sampleShape()) to `chw` and returns its label.
  virtual int64_t get(int64_t index, float* chw) const = 0;
  // Sample `index`'s image at its own size into `image`, and its label. The default reads
  // sampleShape() through get().
  virtual int64_t read(int64_t index, Image& image) const;
  // Labels per pixel: H*W of each sample's mask (sampleShape()'s), 0 for a label per sample
  // or masks of various sizes.
  virtual int64_t maskPixels() const { return 0; }
  // Whether each sample has a mask (a label per pixel) rather than one label.
  virtual bool hasMasks() const { return maskPixels() > 0; }
  // Writes sample `index`'s maskPixels() labels (a data set with masks only).
  virtual void getMask(int64_t index, int64_t* mask) const;
  // Sample `index`'s mask at its own size, which is its image's (read()'s). The default reads
  // sampleShape()'s H x W through getMask().
  virtual void readMask(int64_t index, LabelMap& mask) const;
  // e.g. "idx:/usr/share/datasets/fashion-mnist (train, 60000 images 1x28x28, 10 classes)"
  virtual std::string describe() const = 0;
};

// Opens SPEC (above). `seed` is used by `synthetic` only. With `pixels` (a segmentation plan)
// npy label maps or a folder with masks: of that H x W, or with `anySize` each mask of its
// image's size (the transforms resize and crop it with its image, Transforms.h).
std::unique_ptr<Dataset> openDataset(const std::string& spec, Split split, Shape shape, int64_t classes, uint64_t seed,
                                     bool anySize = false, const std::optional<PixelLabels>& pixels = std::nullopt);

}  // namespace lrc::data
