// The pixel operations of the data transforms (Transforms.h), on float CHW images given as
// raw pointers and explicit sizes, each the same as a torchvision.transforms.functional op on
// a float tensor (test/transforms checks them against torchvision):
//   resizeBilinear   F.resize / F.resized_crop with InterpolationMode.BILINEAR and
//                    antialias=False, i.e. torch.nn.functional.interpolate(mode="bilinear",
//                    align_corners=False): no low-pass filter when shrinking (PIL's resize
//                    has one; torchvision's tensor path without antialias does not).
//   resizeNearest    F.resize / F.resized_crop with InterpolationMode.NEAREST, for masks (labels
//                    stay labels): interpolate(mode="nearest"), source index
//                    min(floor(i * (float)in / out), in - 1) in float32 as ATen computes it.
//   crop             F.crop: zeros where the window leaves the image (for masks, `fill`: the
//                    ignore index, as torchvision's segmentation reference pads targets).
//   flipHorizontal   F.hflip.
//   normalize        F.normalize: (x - mean[c]) / std[c].
// and the windows torchvision's transforms choose: resize's output size, CenterCrop's
// window and RandomResizedCrop.get_params with scale (0.08, 1) and ratio (3/4, 4/3).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "runtime/data/Random.h"

namespace lrc::data {

// Rows [top, top + height) and columns [left, left + width) of an image; may reach outside it.
struct Window {
  int64_t top = 0, left = 0, height = 0, width = 0;
  bool operator==(const Window&) const = default;
};

// F.resize(img, S)'s output (height, width): the shorter side becomes S, the longer one
// int(S * long / short) (truncated, as torchvision does).
std::array<int64_t, 2> shorterSideTo(int64_t height, int64_t width, int64_t size);

// F.center_crop(img, [height, width]) as a window of the H x W image: offsets
// round((H - height) / 2) with Python's round (half to even), and when the crop is larger
// than the image, the image centered in it (the pad left/top is (height - H) // 2).
Window centerCropWindow(int64_t H, int64_t W, int64_t height, int64_t width);

// RandomResizedCrop.get_params(img, scale=(0.08, 1), ratio=(3/4, 4/3)) for an H x W image:
// up to 10 tries of area fraction ~ U(0.08, 1) and log aspect ratio ~ U(log 3/4, log 4/3),
// w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)), kept when 0 < w <= W and
// 0 < h <= H, at a uniform position; else the centered crop of the whole image clamped to
// the ratio range. Draws come from `rng` (not torch's generator: the same distribution).
Window randomResizedCropWindow(int64_t H, int64_t W, SplitMix64& rng);

// Bilinear resize of `window` (inside the C x H x W image `in`) to C x outH x outW at `out`.
void resizeBilinear(const float* in, int64_t C, int64_t H, int64_t W, const Window& window, float* out, int64_t outH,
                    int64_t outW);

// Nearest-neighbour resize of `window` (inside the H x W label map `in`) to outH x outW at `out`.
void resizeNearest(const int64_t* in, int64_t H, int64_t W, const Window& window, int64_t* out, int64_t outH,
                   int64_t outW);

// Copies `window` of the C x H x W image `in` to `out` (C x window.height x window.width),
// `fill` outside the image. T is float (images) or int64_t (masks).
template <class T>
void crop(const T* in, int64_t C, int64_t H, int64_t W, const Window& window, T* out, T fill = T(0));

// Mirrors each row of the C x H x W image in place.
template <class T>
void flipHorizontal(T* chw, int64_t C, int64_t H, int64_t W) {
  for (int64_t row = 0; row < C * H; ++row) std::reverse(chw + row * W, chw + (row + 1) * W);
}

// chw[c][i] = (chw[c][i] - mean[c]) / std[c] for the C planes of `plane` values each.
void normalize(float* chw, int64_t C, int64_t plane, const float* mean, const float* std);

}  // namespace lrc::data
