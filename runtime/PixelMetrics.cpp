#include "runtime/PixelMetrics.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace lrc::runtime {

PixelMetrics::PixelMetrics(int64_t classes)
    : classes_(classes), confusion_(static_cast<size_t>(classes * classes), 0) {
  if (classes < 1) throw std::invalid_argument("PixelMetrics: " + std::to_string(classes) + " classes");
}

void PixelMetrics::add(const float* logits, const int64_t* labels, int64_t samples, int64_t H, int64_t W,
                       int64_t ignoreIndex) {
  const int64_t plane = H * W;
  for (int64_t n = 0; n < samples; ++n)
    for (int64_t p = 0; p < plane; ++p) {
      const int64_t label = labels[n * plane + p];
      if (label == ignoreIndex) continue;
      if (label < 0 || label >= classes_)
        throw std::invalid_argument("PixelMetrics: label " + std::to_string(label) + " of sample " + std::to_string(n) +
                                    " is outside [0, " + std::to_string(classes_) + ")");
      const float* x = logits + n * classes_ * plane + p;
      int64_t best = 0;
      for (int64_t k = 1; k < classes_; ++k)
        if (x[k * plane] > x[best * plane]) best = k;
      ++confusion_[static_cast<size_t>(label * classes_ + best)];
      ++counted_;
    }
}

double PixelMetrics::pixelAccuracy() const {
  int64_t correct = 0;
  for (int64_t k = 0; k < classes_; ++k) correct += confusion_[static_cast<size_t>(k * classes_ + k)];
  return counted_ == 0 ? NAN : static_cast<double>(correct) / static_cast<double>(counted_);
}

double PixelMetrics::meanIoU() const {
  double sum = 0;
  int64_t present = 0;
  for (int64_t k = 0; k < classes_; ++k) {
    int64_t labelled = 0, predicted = 0;
    for (int64_t j = 0; j < classes_; ++j) {
      labelled += confusion_[static_cast<size_t>(k * classes_ + j)];
      predicted += confusion_[static_cast<size_t>(j * classes_ + k)];
    }
    const int64_t tp = confusion_[static_cast<size_t>(k * classes_ + k)];
    const int64_t uni = labelled + predicted - tp;
    if (uni == 0) continue;
    sum += static_cast<double>(tp) / static_cast<double>(uni);
    ++present;
  }
  return present == 0 ? NAN : sum / static_cast<double>(present);
}

}  // namespace lrc::runtime
