// Training data for lrc-run: the data sets `--data SPEC` names and the loader that cuts them
// into shuffled fixed-size batches. The loader's whole state is (seed, epoch, batch in the
// epoch): a checkpoint keeps those and seek() returns to them.
//
// SPEC (SPEC.md §3):
//   npy:X.npy,Y.npy  X: float32 (taken as is; a NaN or infinity is refused, naming the
//                    sample) or uint8 (/255), shape N,C,H,W or N,H,W (C=1);
//                    Y: int64, int32 or uint8, shape N. Little-endian .npy v1/v2/v3, C order.
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
//                    C=3; images with alpha are refused. Every image must already be HxW of the
//                    plan: nothing is resized. The split is ignored: pass another folder for
//                    validation.
//   synthetic        reproducible random data of the plan's shape: 1024 samples for Train, 256
//                    for Test; labels uniform in [0, classes); pixels = a fixed +-0.5 pattern
//                    per class plus unit-variance noise (mean of the sum of four uniforms), so a
//                    model can learn it. Depends on (seed, split, index) only.
//
// Pixels are scaled to [0, 1] (/255, /maxval for 16-bit PGM/PPM, float32 npy as is) and not
// otherwise normalized: no mean/std normalization, no augmentation.
//
// Every problem with the files throws std::runtime_error with a one-line message that starts
// with "data: " and names the file and what was expected. `shape` (C,H,W) and `classes` are
// what the plan expects: `synthetic` makes data of that shape; every other kind checks the
// images against the shape and every label against [0, classes) when opened. A folder must
// have exactly `classes` class folders, since its labels are their positions.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lrc::data {

enum class Split { Train, Test };

// Samples are float32 CHW images and int64 labels. get() is const and thread-safe.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual std::array<int64_t, 3> sampleShape() const = 0;  // C, H, W
  virtual int64_t numClasses() const = 0;
  // Writes sample `index`'s C*H*W pixels to `chw` and returns its label.
  virtual int64_t get(int64_t index, float* chw) const = 0;
  // e.g. "idx:/usr/share/datasets/fashion-mnist (train, 60000 images 1x28x28, 10 classes)"
  virtual std::string describe() const = 0;
};

// Opens SPEC (above). `seed` is used by `synthetic` only.
std::unique_ptr<Dataset> openDataset(const std::string& spec, Split split, std::array<int64_t, 3> shape,
                                     int64_t classes, uint64_t seed);

// Cuts a data set into batches of exactly `batch` samples. Each epoch visits the samples in
// an order of its own and drops the last size % batch of them, so every batch has the plan's
// batch size. With `shuffle`, epoch e's order is the Fisher-Yates shuffle of 0..size-1 (for i
// from size-1 down to 1, swap i with j = uniformBelow(i + 1)) driven by
// std::mt19937_64(seed + e), where uniformBelow(n) draws r until r >= 2^64 mod n and
// returns r % n (unbiased, and the same on every platform). Without it the order is
// 0..size-1 every epoch, so the same tail is always dropped.
class BatchLoader {
 public:
  // Throws when the data set holds fewer samples than one batch. `data` must outlive the loader.
  BatchLoader(const Dataset& data, int64_t batch, bool shuffle, uint64_t seed);

  int64_t batchSize() const { return batch_; }
  int64_t batchesPerEpoch() const;
  // Epoch of the batch next() returns next, and its position in that epoch.
  int64_t epoch() const { return epoch_; }
  int64_t batchInEpoch() const { return position_ / batch_; }

  // Writes the next batch: batch*C*H*W floats to `images`, batch labels to `labels`.
  void next(float* images, int64_t* labels);

  // Continues at batch `batchInEpoch` of epoch `epoch` (where a checkpoint left off,
  // lrc-run --resume): next() then returns what it would there after the batches before.
  // Throws "data: ..." unless epoch >= 0 and 0 <= batchInEpoch < batchesPerEpoch().
  void seek(int64_t epoch, int64_t batchInEpoch);

 private:
  void startEpoch(int64_t e);

  const Dataset& data_;
  int64_t batch_;
  bool shuffle_;
  uint64_t seed_;
  int64_t epoch_ = 0;
  int64_t position_ = 0;  // samples of order_ already handed out this epoch
  std::vector<int64_t> order_;
};

}  // namespace lrc::data
