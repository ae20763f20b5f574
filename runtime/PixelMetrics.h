// Segmentation metrics of lrc-run --val: pixel accuracy and mean IoU over the counted pixels
// (label not the ignore index) of every batch, from a confusion matrix of class counts.
//   pixel accuracy = correct pixels / counted pixels
//   mean IoU       = the mean over the classes that occur in the labels or in the
//                    predictions (argmax over K; the first maximum on ties) of
//                    TP / (TP + FP + FN); classes in neither are left out (as torchmetrics'
//                    JaccardIndex with absent classes dropped and the VOC/mmseg mIoU's nanmean).
#pragma once

#include <cstdint>
#include <vector>

namespace lrc::runtime {

class PixelMetrics {
 public:
  explicit PixelMetrics(int64_t classes);

  // Adds `samples` samples of logits [samples, K, H, W] and labels [samples, H, W].
  void add(const float* logits, const int64_t* labels, int64_t samples, int64_t H, int64_t W, int64_t ignoreIndex);

  int64_t counted() const { return counted_; }
  double pixelAccuracy() const;  // NaN when no pixel was counted
  double meanIoU() const;        // NaN when no pixel was counted

 private:
  int64_t classes_;
  int64_t counted_ = 0;
  std::vector<int64_t> confusion_;  // [label][prediction]
};

}  // namespace lrc::runtime
