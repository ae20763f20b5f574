// Data transforms as torchvision users know them, applied to each sample on the loader's
// worker threads (BatchLoader.h): the steps of a list, in order, then the normalization.
//
// Steps (`--train-transform` / `--val-transform` LIST, comma-separated):
//   resize[:S]           the shorter side to S (default int(min(H, W) * 256 / 224) of the plan's
//                        H x W: 256 for 224), the longer in proportion: torchvision's
//                        Resize(S) on a tensor with antialias=False (bilinear; ImageOps.h).
//   center-crop          the plan's H x W from the middle: CenterCrop((H, W)), zero-padded when
//                        the image is smaller.
//   random-resized-crop  RandomResizedCrop((H, W)): scale (0.08, 1), ratio (3/4, 4/3), 10 tries
//                        then the center-crop fallback, bilinear without antialias.
//   flip                 RandomHorizontalFlip(p=0.5).
// A list that changes the image size must end its resizes and crops with center-crop or
// random-resized-crop, so that every image comes out at the plan's H x W whatever its size;
// such a list lets data of any size be opened (Dataset.h `anySize`). Without one the data set's
// images must already have the plan's shape.
// Normalization (Normalize(mean, std)) comes last, after every step, in training and
// evaluation alike.
//
// Random steps draw from SplitMix64 keyed by (seed, epoch, sample index): the same images
// for the same seed whatever the number of workers or the order they run in.
//
// Masks (a segmentation data set's label maps) go through the same steps with the same draws
// (crop window, flip) as their image: resized with nearest interpolation (labels stay labels;
// torchvision's segmentation references use InterpolationMode.NEAREST for targets), and
// center-crop pads them with the ignore index (the references pad targets with 255).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/data/Dataset.h"

namespace lrc::data {

struct TransformStep {
  enum class Kind { Resize, CenterCrop, RandomResizedCrop, Flip };
  Kind kind;
  int64_t size = 0;  // Resize: the shorter side; 0 = the default above
  bool operator==(const TransformStep&) const = default;
};

// Parses LIST; throws std::invalid_argument naming `flag` ("--train-transform: unknown
// transform 'x'; ...") on an unknown step, a bad size, or a list that resizes but does not
// end at the plan's size.
std::vector<TransformStep> parseTransformList(const std::string& flag, const std::string& list);

// True when a step changes the image size (the data may then have any size).
bool changesSize(const std::vector<TransformStep>& steps);

// "resize:256,center-crop": the list as parseTransformList reads it back.
std::string transformListText(const std::vector<TransformStep>& steps);

// The evaluation recipe that goes with a training list: resize (the default size) and
// center-crop when `train` changes the image size, else nothing.
std::vector<TransformStep> evaluationSteps(const std::vector<TransformStep>& train);

// Per-channel mean and std (both empty: no normalization).
struct Normalization {
  std::vector<float> mean, std;
  bool empty() const { return mean.empty(); }
};
// torchvision's ImageNet statistics: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
Normalization imagenetNormalization();

// Scratch images of one thread.
struct Scratch {
  Image source, between;
  LabelMap mask, maskBetween;
};

class Transforms {
 public:
  // `out` is the plan's C, H, W. Throws std::invalid_argument when the normalization's
  // length is not out's channels or a std is not positive. `maskFill` is the label of mask
  // pixels center-crop pads (the plan's ignore index).
  Transforms(std::vector<TransformStep> steps, Normalization normalization, Shape out, uint64_t seed,
             int64_t maskFill = -100);

  const Shape& outputShape() const { return out_; }
  bool changesSize() const;
  // "random-resized-crop,flip; normalize mean (...) std (...)", or "none".
  std::string describe() const;

  // Writes sample `index` of `data`, transformed, to `out` (outputShape()) and returns its
  // label. `epoch` keys the random steps. With `mask` (a data set with masks), its mask goes
  // there (out's H x W), transformed with the image.
  int64_t sample(const Dataset& data, int64_t index, int64_t epoch, Scratch& scratch, float* out,
                 int64_t* mask = nullptr) const;

 private:
  std::vector<TransformStep> steps_;
  Normalization normalization_;
  Shape out_;
  uint64_t seed_;
  int64_t maskFill_;
  int64_t lastCrop_ = -1;  // the step whose output goes straight to `out`
};

}  // namespace lrc::data
