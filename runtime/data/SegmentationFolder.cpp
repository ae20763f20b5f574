// folder:DIR of a segmentation plan (Dataset.h): DIR/images/<name>.<ext> (any image folder:DIR
// reads) and, for each, DIR/masks/<name>.png, a palette or grayscale PNG of class ids
// (MaskFile.h), as VOC's JPEGImages + SegmentationClass and torchvision's VOCSegmentation
// pair them. Every image's header is checked against the plan's C x H x W (with `anySize`, its
// channels) and every mask's presence when the folder is opened; masks are decoded by
// getMask() / readMask(), which check their size (the plan's, or with `anySize` their
// image's) and ids (each in [0, classes) or the ignore index) and name the file.
#include <filesystem>

#include "runtime/data/ImageFile.h"
#include "runtime/data/MaskFile.h"

namespace lrc::data {
namespace {

class SegmentationFolder final : public Dataset {
 public:
  SegmentationFolder(std::string description, Shape shape, int64_t classes, PixelLabels pixels, bool anySize,
                     std::vector<std::string> images, std::vector<std::string> masks)
      : description_(std::move(description)),
        shape_(shape),
        classes_(classes),
        pixels_(pixels),
        anySize_(anySize),
        images_(std::move(images)),
        masks_(std::move(masks)) {}

  int64_t size() const override { return static_cast<int64_t>(images_.size()); }
  Shape sampleShape() const override { return shape_; }
  int64_t numClasses() const override { return classes_; }
  std::string describe() const override { return description_; }
  // With images of any size (anySize) the masks have theirs: as sampleShape() (0 when they differ).
  int64_t maskPixels() const override { return anySize_ ? shape_[1] * shape_[2] : pixels_.height * pixels_.width; }
  bool hasMasks() const override { return true; }

  int64_t get(int64_t index, float* chw) const override {
    checkIndex(*this, index);
    readImage(images_[static_cast<size_t>(index)], shape_, chw);
    return 0;
  }
  int64_t read(int64_t index, Image& image) const override {
    checkIndex(*this, index);
    readImage(images_[static_cast<size_t>(index)], image);
    return 0;
  }

  void getMask(int64_t index, int64_t* out) const override {
    checkIndex(*this, index);
    decode(index, pixels_.height, pixels_.width, "the plan labels", out);
  }

  void readMask(int64_t index, LabelMap& out) const override {
    checkIndex(*this, index);
    const Shape image = checkImage(images_[static_cast<size_t>(index)], shape_, true);
    decode(index, image[1], image[2], images_[static_cast<size_t>(index)] + " has", out.reshape(image[1], image[2]));
  }

 private:
  // Mask `index`, which must be height x width (`whose` names what says so), to `out`.
  void decode(int64_t index, int64_t height, int64_t width, const std::string& whose, int64_t* out) const {
    const std::string& path = masks_[static_cast<size_t>(index)];
    const Mask mask = lrc::data::readMask(path);
    if (mask.height != height || mask.width != width)
      fail(path + " is a " + std::to_string(mask.height) + "x" + std::to_string(mask.width) + " mask but " + whose +
           " " + std::to_string(height) + "x" + std::to_string(width) + " pixels");
    for (size_t i = 0; i < mask.ids.size(); ++i) {
      const int64_t v = mask.ids[i];
      if (v != pixels_.ignoreIndex && (v < 0 || v >= classes_))
        fail(path + ": label " + std::to_string(v) + " at pixel " +
             std::to_string(static_cast<int64_t>(i) / mask.width) + "," +
             std::to_string(static_cast<int64_t>(i) % mask.width) + " is outside [0, " + std::to_string(classes_) +
             "), the plan's classes, and is not the ignore index " + std::to_string(pixels_.ignoreIndex));
      out[i] = v;
    }
  }

  std::string description_;
  Shape shape_;
  int64_t classes_;
  PixelLabels pixels_;
  bool anySize_;
  std::vector<std::string> images_, masks_;
};

}  // namespace

std::unique_ptr<Dataset> openSegmentationFolder(const std::string& dir, const Shape& shape, int64_t classes,
                                                const PixelLabels& pixels, bool anySize) {
  checkDirectory("folder", dir);
  const std::string imageDir = dir + "/images", maskDir = dir + "/masks";
  for (const std::string& d : {imageDir, maskDir})
    if (!std::filesystem::is_directory(d))
      fail("folder:" + dir + " is a segmentation data set (the plan labels every pixel): it needs " + d +
           " (images/<name>.<ext> with masks/<name>.png)");
  std::vector<std::string> images, masks;
  Shape common{};  // the images' one shape; H = W = 0 once two differ (with anySize)
  for (const std::string& name : listNames(imageDir, false)) {
    images.push_back(imageDir + "/" + name);
    const Shape found = checkImage(images.back(), shape, anySize);
    if (images.size() == 1) common = found;
    if (found != common) common = {found[0], 0, 0};
    masks.push_back(maskDir + "/" + name.substr(0, name.rfind('.')) + ".png");
    if (!isRegularFile(masks.back())) fail(images.back() + " has no mask: expected " + masks.back());
  }
  if (images.empty()) fail(imageDir + " holds no *.png, *.jpg, *.jpeg, *.pgm or *.ppm image");
  std::string description = summary("folder:" + dir, nullptr, static_cast<int64_t>(images.size()), common, classes);
  description.insert(description.size() - 1, ", PNG masks");
  return std::make_unique<SegmentationFolder>(std::move(description), common, classes, pixels, anySize,
                                              std::move(images), std::move(masks));
}

}  // namespace lrc::data
