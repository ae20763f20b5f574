// lrc-run --val's segmentation metrics (runtime/PixelMetrics.h) against NumPy: pixel accuracy
// and mean IoU over the classes present in the labels or the predictions, ignored pixels left
// out, on random logits and label maps NumPy writes (with a class that never occurs, one only
// predicted, and batches added one at a time).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "runtime/PixelMetrics.h"
#include "test/unit/data_test_util.h"

namespace lrc::runtime {
namespace {

template <class T>
std::vector<T> readRaw(const std::string& path, size_t count) {
  std::vector<T> v(count);
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(T)));
  EXPECT_TRUE(f.good()) << path;
  return v;
}

TEST(PixelMetrics, MatchNumpy) {
  constexpr int64_t N = 5, K = 6, H = 7, W = 9, ignore = 255;
  data::testing::TempDir dir;
  const std::string script =
      "import numpy as np, sys\n"
      "d = sys.argv[1]\n"
      "N, K, H, W, ignore = 5, 6, 7, 9, 255\n"
      "rng = np.random.default_rng(7)\n"
      "x = rng.standard_normal((N, K, H, W)).astype(np.float32)\n"
      "x[:, 4] -= 10  # class 4 is never predicted\n"
      "y = rng.integers(0, 4, (N, H, W)).astype(np.int64)  # classes 4 and 5 are never labels\n"
      "x[0, 5, 0, :3] += 20  # class 5 is predicted at 3 pixels, one of them ignored\n"
      "y[rng.random((N, H, W)) < 0.15] = ignore\n"
      "y[0, 0, 2] = ignore\n"
      "x.tofile(d + '/x.bin'); y.tofile(d + '/y.bin')\n"
      "pred = x.argmax(1)\n"
      "keep = y != ignore\n"
      "p, t = pred[keep], y[keep]\n"
      "ious = []\n"
      "for k in range(K):\n"
      "    inter = np.sum((p == k) & (t == k)); union = np.sum((p == k) | (t == k))\n"
      "    if union > 0: ious.append(inter / union)\n"
      "open(d + '/want.txt', 'w').write('%.17g %.17g %d' % (np.mean(p == t), np.mean(ious), len(ious)))\n";
  data::testing::writeFile(dir / "make.py", data::testing::Bytes(script.begin(), script.end()));
  ASSERT_EQ(std::system(("/usr/bin/python3 " + (dir / "make.py") + " " + dir.path()).c_str()), 0);
  const std::vector<float> x = readRaw<float>(dir / "x.bin", N * K * H * W);
  const std::vector<int64_t> y = readRaw<int64_t>(dir / "y.bin", N * H * W);
  double accuracy = 0, meanIoU = 0;
  int present = 0;
  std::ifstream(dir / "want.txt") >> accuracy >> meanIoU >> present;
  ASSERT_EQ(present, 5) << "classes 0-3 labelled, 5 predicted, 4 in neither";

  PixelMetrics metrics(K);
  metrics.add(x.data(), y.data(), 2, H, W, ignore);  // two batches: the counts add up
  metrics.add(x.data() + 2 * K * H * W, y.data() + 2 * H * W, N - 2, H, W, ignore);
  EXPECT_NEAR(metrics.pixelAccuracy(), accuracy, 1e-12);
  EXPECT_NEAR(metrics.meanIoU(), meanIoU, 1e-12);
}

TEST(PixelMetrics, NothingCountedIsNaN) {
  PixelMetrics metrics(3);
  const std::vector<float> x(3 * 4, 0.0f);
  const std::vector<int64_t> y(4, -100);
  metrics.add(x.data(), y.data(), 1, 2, 2, -100);
  EXPECT_EQ(metrics.counted(), 0);
  EXPECT_TRUE(std::isnan(metrics.pixelAccuracy()));
  EXPECT_TRUE(std::isnan(metrics.meanIoU()));
}

}  // namespace
}  // namespace lrc::runtime
