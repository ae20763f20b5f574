#include "runtime/data/Transforms.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "runtime/data/ImageOps.h"
#include "runtime/data/Loaders.h"

namespace lrc::data {

namespace {

using Kind = TransformStep::Kind;

struct StepName {
  Kind kind;
  const char* name;
};
constexpr StepName kStepNames[] = {
    {Kind::Resize, "resize"},
    {Kind::CenterCrop, "center-crop"},
    {Kind::RandomResizedCrop, "random-resized-crop"},
    {Kind::Flip, "flip"},
};

const char* stepName(Kind kind) {
  for (const StepName& s : kStepNames)
    if (s.kind == kind) return s.name;
  throw std::logic_error("stepName: unknown kind");
}

bool isCrop(Kind kind) { return kind == Kind::CenterCrop || kind == Kind::RandomResizedCrop; }

int64_t parseSize(const std::string& flag, const std::string& item, const std::string& text) {
  int64_t v = 0;
  bool ok = !text.empty() && text.size() <= 6;
  for (const char c : text) {
    ok = ok && c >= '0' && c <= '9';
    v = v * 10 + (c - '0');
  }
  if (!ok || v <= 0)
    throw std::invalid_argument(flag + ": '" + item + "' expects a positive size in pixels, e.g. resize:256");
  return v;
}

// The sample's random stream: (seed, epoch, index) mixed in turn.
SplitMix64 sampleStream(uint64_t seed, int64_t epoch, int64_t index) {
  return SplitMix64{
      mix(mix(mix(seed ^ 0x7f4a7c159e3779b9ull) + static_cast<uint64_t>(epoch)) + static_cast<uint64_t>(index))};
}

}  // namespace

std::vector<TransformStep> parseTransformList(const std::string& flag, const std::string& list) {
  std::vector<TransformStep> steps;
  size_t at = 0;
  for (;;) {
    const size_t comma = list.find(',', at);
    const std::string item = list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    const size_t colon = item.find(':');
    const std::string name = item.substr(0, colon);
    const StepName* found = nullptr;
    for (const StepName& s : kStepNames)
      if (name == s.name) found = &s;
    if (!found)
      throw std::invalid_argument(flag + ": unknown transform '" + item +
                                  "'; expected resize[:S], center-crop, random-resized-crop or flip");
    TransformStep step{found->kind};
    if (colon != std::string::npos) {
      if (step.kind != Kind::Resize)
        throw std::invalid_argument(flag + ": '" + item + "' takes no argument (it crops to the plan's size)");
      step.size = parseSize(flag, item, item.substr(colon + 1));
    }
    steps.push_back(step);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  // Every image must come out at the plan's size: a resize needs a crop after it.
  for (auto it = steps.rbegin(); it != steps.rend() && !isCrop(it->kind); ++it)
    if (it->kind == Kind::Resize)
      throw std::invalid_argument(flag + ": '" + transformListText(steps) +
                                  "' ends with a resize; add center-crop or random-resized-crop after it so "
                                  "that every image has the plan's size");
  return steps;
}

bool changesSize(const std::vector<TransformStep>& steps) {
  return std::any_of(steps.begin(), steps.end(), [](const TransformStep& s) { return s.kind != Kind::Flip; });
}

std::string transformListText(const std::vector<TransformStep>& steps) {
  std::string text;
  for (const TransformStep& s : steps) {
    if (!text.empty()) text += ",";
    text += stepName(s.kind);
    if (s.size) {
      text += ':';
      text += std::to_string(s.size);
    }
  }
  return text;
}

std::vector<TransformStep> evaluationSteps(const std::vector<TransformStep>& train) {
  if (!changesSize(train)) return {};
  return {{Kind::Resize}, {Kind::CenterCrop}};
}

Normalization imagenetNormalization() { return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}}; }

Transforms::Transforms(std::vector<TransformStep> steps, Normalization normalization, Shape out, uint64_t seed,
                       int64_t maskFill)
    : steps_(std::move(steps)), normalization_(std::move(normalization)), out_(out), seed_(seed), maskFill_(maskFill) {
  if (!normalization_.empty() && (normalization_.mean.size() != static_cast<size_t>(out[0]) ||
                                  normalization_.std.size() != normalization_.mean.size()))
    throw std::logic_error("Transforms: the normalization does not have one mean and std per channel");
  for (size_t i = 0; i < steps_.size(); ++i)
    if (isCrop(steps_[i].kind)) lastCrop_ = static_cast<int64_t>(i);
  for (size_t i = static_cast<size_t>(lastCrop_ + 1); i < steps_.size(); ++i)
    if (steps_[i].kind != Kind::Flip) throw std::logic_error("Transforms: the steps do not end at the plan's size");
}

bool Transforms::changesSize() const { return data::changesSize(steps_); }

std::string Transforms::describe() const {
  std::string text = steps_.empty() ? "" : transformListText(steps_);
  if (!normalization_.empty()) {
    auto list = [](const std::vector<float>& v) {
      std::string s;
      for (const float x : v) {
        char number[32];
        std::snprintf(number, sizeof number, "%g", static_cast<double>(x));
        if (!s.empty()) s += ',';
        s += number;
      }
      return s;
    };
    if (!text.empty()) text += ", ";
    text += "normalize mean " + list(normalization_.mean) + " std " + list(normalization_.std);
  }
  return text.empty() ? "none" : text;
}

int64_t Transforms::sample(const Dataset& data, int64_t index, int64_t epoch, Scratch& scratch, float* out,
                           int64_t* mask) const {
  const auto [C, H, W] = out_;
  SplitMix64 rng = sampleStream(seed_, epoch, index);
  int64_t label;
  Image* image = nullptr;       // the current image while it is not yet in `out`
  LabelMap* labels = nullptr;   // its mask while not yet in `mask`
  if (lastCrop_ < 0) {
    label = data.get(index, out);
    if (mask) data.getMask(index, mask);
  } else {
    label = data.read(index, scratch.source);
    image = &scratch.source;
    if (image->shape[0] != C)
      fail(data.describe() + ": sample " + std::to_string(index) + " has " + std::to_string(image->shape[0]) +
           " channels but the plan expects " + std::to_string(C));
    if (mask) {
      data.readMask(index, scratch.mask);
      labels = &scratch.mask;
      if (labels->height != image->shape[1] || labels->width != image->shape[2])
        fail(data.describe() + ": sample " + std::to_string(index) + " has a " + std::to_string(labels->height) +
             "x" + std::to_string(labels->width) + " mask but a " + shapeText(image->shape) + " image");
    }
  }
  for (size_t i = 0; i < steps_.size(); ++i) {
    const TransformStep& step = steps_[i];
    if (step.kind == Kind::Flip) {
      // RandomHorizontalFlip: one draw per sample, flip below 0.5, the image and its mask.
      if (uniformUnit(rng) < 0.5) {
        if (image)
          flipHorizontal(image->pixels.data(), image->shape[0], image->shape[1], image->shape[2]);
        else
          flipHorizontal(out, C, H, W);
        if (labels)
          flipHorizontal(labels->ids.data(), 1, labels->height, labels->width);
        else if (mask)
          flipHorizontal(mask, 1, H, W);
      }
      continue;
    }
    const auto [c, h, w] = image->shape;
    const bool last = static_cast<int64_t>(i) == lastCrop_;
    Image& next = image == &scratch.source ? scratch.between : scratch.source;
    // The step's window of the image (one draw for the image and its mask) and output size.
    Window window{0, 0, h, w};
    Shape shape{c, H, W};
    if (step.kind == Kind::Resize) {
      const auto [rh, rw] = shorterSideTo(h, w, step.size ? step.size : std::min(H, W) * 256 / 224);
      shape = {c, rh, rw};
    } else if (step.kind == Kind::CenterCrop) {
      window = centerCropWindow(h, w, H, W);
    } else {
      window = randomResizedCropWindow(h, w, rng);
    }
    float* target = last ? out : next.reshape(shape);
    if (step.kind == Kind::CenterCrop)
      crop(image->pixels.data(), c, h, w, window, target);
    else
      resizeBilinear(image->pixels.data(), c, h, w, window, target, shape[1], shape[2]);
    image = last ? nullptr : &next;
    if (!labels) continue;
    LabelMap& nextMask = labels == &scratch.mask ? scratch.maskBetween : scratch.mask;
    int64_t* maskTarget = last ? mask : nextMask.reshape(shape[1], shape[2]);
    if (step.kind == Kind::CenterCrop)
      crop(labels->ids.data(), 1, h, w, window, maskTarget, maskFill_);
    else
      resizeNearest(labels->ids.data(), h, w, window, maskTarget, shape[1], shape[2]);
    labels = last ? nullptr : &nextMask;
  }
  if (!normalization_.empty()) normalize(out, C, H * W, normalization_.mean.data(), normalization_.std.data());
  return label;
}

}  // namespace lrc::data
