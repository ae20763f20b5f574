// folder:DIR — one subfolder per class, one file per image; images are decoded on every
// get() or read(), so only the file list stays in memory. Every image's header is checked
// against the plan when the folder is opened (with `anySize`, its channels), so a wrong size
// fails before training starts. With `anySize` and images of different sizes the data set's
// sampleShape() is C x 0 x 0: only read() gives them, at their own size.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "runtime/data/ImageFile.h"

namespace lrc::data {
namespace {

namespace fs = std::filesystem;

}  // namespace

bool isImageName(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "pgm" || ext == "ppm";
}

std::vector<std::string> listNames(const std::string& dir, bool wantDirectories) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code typeEc;
    if (wantDirectories ? it->is_directory(typeEc) : it->is_regular_file(typeEc) && isImageName(name))
      names.push_back(name);
  }
  if (ec) fail("cannot list " + dir + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

class FolderDataset final : public Dataset {
 public:
  FolderDataset(std::string description, Shape shape, int64_t classes, std::vector<std::string> paths,
                std::vector<int64_t> labels)
      : description_(std::move(description)),
        shape_(shape),
        classes_(classes),
        paths_(std::move(paths)),
        labels_(std::move(labels)) {}

  int64_t size() const override { return static_cast<int64_t>(paths_.size()); }
  std::array<int64_t, 3> sampleShape() const override { return shape_; }
  int64_t numClasses() const override { return classes_; }
  std::string describe() const override { return description_; }
  int64_t get(int64_t index, float* chw) const override {
    checkIndex(*this, index);
    readImage(paths_[static_cast<size_t>(index)], shape_, chw);
    return labels_[static_cast<size_t>(index)];
  }
  int64_t read(int64_t index, Image& image) const override {
    checkIndex(*this, index);
    readImage(paths_[static_cast<size_t>(index)], image);
    return labels_[static_cast<size_t>(index)];
  }

 private:
  std::string description_;
  Shape shape_;
  int64_t classes_;
  std::vector<std::string> paths_;
  std::vector<int64_t> labels_;
};

}  // namespace

std::unique_ptr<Dataset> openFolder(const std::string& dir, const Shape& shape, int64_t classes, bool anySize) {
  checkDirectory("folder", dir);
  const std::vector<std::string> classNames = listNames(dir, true);
  if (static_cast<int64_t>(classNames.size()) != classes)
    fail("folder:" + dir + " has " + std::to_string(classNames.size()) + " class folders but the plan expects " +
         std::to_string(classes) + " classes");

  std::vector<std::string> paths;
  std::vector<int64_t> labels;
  Shape common{};  // the images' one shape; H = W = 0 once two differ
  for (size_t label = 0; label < classNames.size(); ++label) {
    const std::string classDir = dir + "/" + classNames[label];
    const std::vector<std::string> files = listNames(classDir, false);
    if (files.empty()) fail(classDir + " holds no *.png, *.jpg, *.jpeg, *.pgm or *.ppm image");
    for (const std::string& name : files) {
      paths.push_back(classDir + "/" + name);
      const Shape found = checkImage(paths.back(), shape, anySize);
      if (paths.size() == 1) common = found;
      if (found != common) common = {found[0], 0, 0};
      labels.push_back(static_cast<int64_t>(label));
    }
  }
  std::string description = summary("folder:" + dir, nullptr, static_cast<int64_t>(paths.size()), common, classes);
  return std::make_unique<FolderDataset>(std::move(description), common, classes, std::move(paths), std::move(labels));
}

}  // namespace lrc::data
