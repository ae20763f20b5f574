// One convolution layer's three products (forward with bias, input gradient, weight
// gradient) on whole N x C x H x H maps by each CPU path of runtime/cpu/Conv.h: im2col + BLAS,
// oneDNN on the plain bands, oneDNN blocked; the workspace is the plan's conv scratch
// (conv2d_workspace_floats: 16 MiB cap), so a path that needs more runs the reference.
// Best of 3 after one warm-up call; GFLOP/s = 2 * MACs / seconds. Built as build/tools/conv-rate:
//   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 build/tools/conv-rate N C H K [KERNEL [SCRATCH]]
// KERNEL: 3 (default; pad 1) or 1 (unpadded), stride 1. SCRATCH: im2col (default, the plan's
// conv scratch by lrc-compile's default rule), dnnl (--conv-scratch dnnl: plus the blocked
// weights, ops::convBlockedWeightsFloats), winograd (--conv-scratch winograd: oneDNN's Winograd
// F(4x4, 3x3) kernels in the plan's Winograd scratch, ops::convWinogradFloats; the blocked path
// runs them, the others ignore the flag) or a number of MiB.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ops/Scratch.h"

#include "runtime/cpu/Conv.h"

using namespace lrc;
using Clock = std::chrono::steady_clock;

template <class F>
double best(F f) {
  f();
  double b = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t = Clock::now();
    f();
    b = std::min(b, std::chrono::duration<double>(Clock::now() - t).count());
  }
  return b;
}

int main(int argc, char** argv) {
  if (argc < 5 || argc > 7) {
    std::fprintf(stderr,
                 "usage: conv-rate N C H K [KERNEL [SCRATCH]] (a KERNEL x KERNEL (3: pad 1, 1: no pad), stride 1 "
                 "convolution of N x C x H x H; SCRATCH im2col|dnnl|winograd|MiB)\n");
    return 2;
  }
  const int64_t N = std::atoll(argv[1]), C = std::atoll(argv[2]), H = std::atoll(argv[3]), K = std::atoll(argv[4]);
  const int64_t k = argc > 5 ? std::atoll(argv[5]) : 3;
  const std::string scratch = argc > 6 ? argv[6] : "im2col";
  if (k != 1 && k != 3) {
    std::fprintf(stderr, "conv-rate: KERNEL must be 1 or 3, got %s\n", argv[5]);
    return 2;
  }
  const int64_t W = H;
  kernels::Conv2dParams p;
  p.h = {k, 1, k / 2, k / 2, 1};
  p.w = p.h;
  std::vector<float> x(N * C * H * W, 0.5f), w(K * C * k * k, 0.01f), b(K, 0.1f), y(N * K * H * W),
      dy(N * K * H * W, 0.3f), dx(N * C * H * W), dw(K * C * k * k);
  int64_t wsFloats = kernels::conv2d_workspace_floats(p, C, W, H);
  if (scratch == "dnnl") {
    wsFloats += ops::convBlockedWeightsFloats(p.h, p.w, 1, K, C).value().value();
  } else if (scratch == "winograd") {
    if (!ops::convWinogradEligible(p.h, p.w, 1, K, C)) {
      std::fprintf(stderr, "conv-rate: oneDNN's Winograd kernels do not take this convolution (3x3, channels multiples of 16)\n");
      return 2;
    }
    p.winograd = true;
    wsFloats += ops::convWinogradFloats(K, C, W, H, N, true).value().value();
  } else if (scratch != "im2col") {
    wsFloats = static_cast<int64_t>(std::atof(scratch.c_str()) * (1 << 20) / 4);
  }
  // 64-byte aligned, as the plan's arena: oneDNN's Winograd weight gradient runs only there.
  std::vector<float> wsStore(std::max<int64_t>(wsFloats, 1) + 16);
  float* const wsData = wsStore.data() + (64 - reinterpret_cast<uintptr_t>(wsStore.data()) % 64) % 64 / sizeof(float);
  const auto xb = kernels::full_band(x.data(), N, C, H, W);
  const auto yb = kernels::full_band(y.data(), N, K, H, W);
  const auto dyb = kernels::full_band(static_cast<const float*>(dy.data()), N, K, H, W);
  const auto dxb = kernels::full_band(dx.data(), N, C, H, W);
  const double gflop = 2.0 * N * K * C * k * k * H * W / 1e9;
  std::printf("N%lld C%lld %lldx%lld K%lld %lldx%lld, workspace %.1f MiB\n", static_cast<long long>(N), static_cast<long long>(C),
              static_cast<long long>(H), static_cast<long long>(W), static_cast<long long>(K), static_cast<long long>(k), static_cast<long long>(k),
              wsFloats * 4.0 / (1 << 20));
  for (const auto path : {cpu::ConvPath::kIm2col, cpu::ConvPath::kDnnlPlain, cpu::ConvPath::kDnnl}) {
    cpu::set_conv_path(path);
    const double f = best([&] { cpu::conv2d_rows_forward(yb, xb, w.data(), b.data(), p, 0, H, wsData, wsFloats); });
    const double d = best([&] {
      std::fill(dx.begin(), dx.end(), 0.0f);
      cpu::conv2d_rows_backward_data(dxb, dyb, w.data(), p, 0, H, wsData, true, wsFloats);
    });
    const double g = best(
        [&] { cpu::conv2d_rows_backward_filter(dw.data(), nullptr, dyb, xb, p, 0, H, wsData, false, wsFloats); });
    std::printf("  %-10s fwd %.3f s (%.0f GFLOP/s)  bwd-data %.3f s (%.0f)  bwd-weights %.3f s (%.0f)\n",
                path == cpu::ConvPath::kDnnl ? (p.winograd ? "winograd" : "dnnl") : path == cpu::ConvPath::kDnnlPlain ? "dnnl-plain" : "im2col", f,
                gflop / f, d, gflop / d, g, gflop / g);
  }
}
