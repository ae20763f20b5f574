#include "runtime/cpu/DnnlConv.h"

#ifdef LRC_HAVE_DNNL

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace lrc::cpu::dnnl_conv {

namespace {

using kernels::Conv2dParams;
using dims = dnnl::memory::dims;
using tag = dnnl::memory::format_tag;
constexpr auto f32 = dnnl::memory::data_type::f32;

// The sizes of one band call as oneDNN sees them: the input view (rows [lo, lo + hv) of the
// input-shaped band, width Wv), the output view (rows [a, b) of the output-shaped band), and
// the pads that stand for the rows and columns the views leave out.
struct View {
  int64_t lo = 0, hv = 0, Wv = 0;
  int64_t padT = 0, padB = 0, padL = 0, padR = 0;
};

// The view of a convolution's output rows [a, b) over an input map of H x W whose rows
// outside [0, H) count as padding; false when it is empty (every row read is padding).
bool viewOf(const Conv2dParams& p, int64_t H, int64_t W, int64_t OW, int64_t a, int64_t b, View& v) {
  const int64_t extH = (p.h.kernel - 1) * p.h.dilation + 1, extW = (p.w.kernel - 1) * p.w.dilation + 1;
  const int64_t t0 = a * p.h.stride - p.h.padBegin, t1 = (b - 1) * p.h.stride - p.h.padBegin + extH;
  v.lo = std::max<int64_t>(t0, 0);
  const int64_t hi = std::min(t1, H);
  if (hi <= v.lo) return false;
  v.hv = hi - v.lo;
  v.padT = v.lo - t0;
  v.padB = t1 - hi;
  const int64_t wEnd = (OW - 1) * p.w.stride - p.w.padBegin + extW;
  v.Wv = std::min(W, wEnd);
  if (v.Wv <= 0) return false;
  v.padL = p.w.padBegin;
  v.padR = wEnd - v.Wv;
  return true;
}

dnnl::memory::desc viewDesc(int64_t N, int64_t C, int64_t rows, int64_t W, int64_t bandRows, int64_t bandW) {
  return dnnl::memory::desc(dims{N, C, rows, W}, f32, dims{C * bandRows * bandW, bandRows * bandW, bandW, 1});
}

dnnl::memory::desc weightDesc(const Conv2dParams& p, int64_t K, int64_t C) {
  if (p.group == 1) return dnnl::memory::desc(dims{K, C, p.h.kernel, p.w.kernel}, f32, tag::oihw);
  return dnnl::memory::desc(dims{p.group, K / p.group, C / p.group, p.h.kernel, p.w.kernel}, f32, tag::goihw);
}

enum Kind : int64_t { kForward, kForwardBias, kBackwardData, kBackwardWeights };

// One cached primitive: null when oneDNN offers only a reference implementation for the shape.
struct Entry {
  std::unique_ptr<dnnl::primitive> prim;
  int64_t scratchFloats = 0;
};

struct Cache {
  std::mutex mutex;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<std::vector<int64_t>, Entry> entries;
};

Cache& cache() {
  static Cache c;
  return c;
}

// The descriptors of one call (built for its key).
struct Descs {
  dnnl::memory::desc src, weights, bias, dst;
  dims strides, dilates, padL, padR;
};

template <class PD>
bool usable(const PD& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) != 0;  // oneDNN's reference loops are slower than im2col
}

Entry create(Kind kind, const Descs& d, dnnl::engine& engine) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  Entry e;
  try {
    const bool bias = kind == kForwardBias;
    const auto fwdDesc =
        bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                               d.src, d.weights, d.bias, d.dst, d.strides, d.dilates, d.padL, d.padR)
             : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                               d.src, d.weights, d.dst, d.strides, d.dilates, d.padL, d.padR);
    const dnnl::convolution_forward::primitive_desc fwd(fwdDesc, attr, engine);
    if (kind == kForward || kind == kForwardBias) {
      if (!usable(fwd)) return e;
      e.prim = std::make_unique<dnnl::convolution_forward>(fwd);
      e.scratchFloats = static_cast<int64_t>((fwd.scratchpad_desc().get_size() + 3) / 4);
    } else if (kind == kBackwardData) {
      const dnnl::convolution_backward_data::primitive_desc pd(
          dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, d.src, d.weights, d.dst,
                                                d.strides, d.dilates, d.padL, d.padR),
          attr, engine, fwd);
      if (!usable(pd)) return e;
      e.prim = std::make_unique<dnnl::convolution_backward_data>(pd);
      e.scratchFloats = static_cast<int64_t>((pd.scratchpad_desc().get_size() + 3) / 4);
    } else {
      const dnnl::convolution_backward_weights::primitive_desc pd(
          dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, d.src, d.weights, d.dst,
                                                   d.strides, d.dilates, d.padL, d.padR),
          attr, engine, fwd);
      if (!usable(pd)) return e;
      e.prim = std::make_unique<dnnl::convolution_backward_weights>(pd);
      e.scratchFloats = static_cast<int64_t>((pd.scratchpad_desc().get_size() + 3) / 4);
    }
  } catch (const dnnl::error&) {
    e.prim.reset();  // a shape oneDNN does not take: the im2col kernel runs it
  }
  return e;
}

// Runs the primitive for `kind` on the views of an input-shaped band `in` (rows v.lo..) and an
// output-shaped band `out` (rows [a, b)); `args` maps the remaining arguments. Returns false
// when the shape has no fast primitive or its scratchpad does not fit in `scratchFloats`.
bool run(Kind kind, const Conv2dParams& p, ConstRowBand in, ConstRowBand out, int64_t a, int64_t b, const View& v,
         float* scratch, int64_t scratchFloats, std::unordered_map<int, void*> ptrs) {
  const std::vector<int64_t> key{kind,     in.N,     in.C,        in.rows,     in.W,     v.hv,     v.Wv,
                                 out.C,    out.rows, out.W,       b - a,       p.h.kernel, p.w.kernel, p.h.stride,
                                 p.w.stride, p.h.dilation, p.w.dilation, v.padT, v.padB,   v.padL,   v.padR,
                                 p.group};
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.entries.find(key);
  Descs d;
  d.src = viewDesc(in.N, in.C, v.hv, v.Wv, in.rows, in.W);
  d.dst = viewDesc(out.N, out.C, b - a, out.W, out.rows, out.W);
  d.weights = weightDesc(p, out.C, in.C);
  d.bias = dnnl::memory::desc(dims{out.C}, f32, tag::x);
  if (it == c.entries.end()) {
    d.strides = {p.h.stride, p.w.stride};
    d.dilates = {p.h.dilation - 1, p.w.dilation - 1};
    d.padL = {v.padT, v.padL};
    d.padR = {v.padB, v.padR};
    it = c.entries.emplace(key, create(kind, d, c.engine)).first;
  }
  const Entry& e = it->second;
  if (!e.prim || e.scratchFloats > scratchFloats) return false;
  const bool backwardData = kind == kBackwardData, backwardWeights = kind == kBackwardWeights;
  std::unordered_map<int, dnnl::memory> args;
  args.emplace(backwardData ? DNNL_ARG_DIFF_SRC : DNNL_ARG_SRC, dnnl::memory(d.src, c.engine, ptrs.at(DNNL_ARG_SRC)));
  args.emplace(backwardWeights ? DNNL_ARG_DIFF_WEIGHTS : DNNL_ARG_WEIGHTS,
               dnnl::memory(d.weights, c.engine, ptrs.at(DNNL_ARG_WEIGHTS)));
  args.emplace(kind == kForward || kind == kForwardBias ? DNNL_ARG_DST : DNNL_ARG_DIFF_DST,
               dnnl::memory(d.dst, c.engine, ptrs.at(DNNL_ARG_DST)));
  if (kind == kForwardBias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(d.bias, c.engine, ptrs.at(DNNL_ARG_BIAS)));
  if (e.scratchFloats > 0)
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 dnnl::memory(dnnl::memory::desc(dims{e.scratchFloats * 4}, dnnl::memory::data_type::u8, tag::x),
                              c.engine, scratch));
  e.prim->execute(c.stream, args);
  c.stream.wait();
  return true;
}

void* mut(const float* p) { return const_cast<float*>(p); }  // oneDNN takes void* for inputs too

}  // namespace

bool available() { return true; }

bool forward(RowBand out, ConstRowBand in, const float* weight, const float* bias, const Conv2dParams& p, int64_t a,
             int64_t b, float* workspace, int64_t workspaceFloats) {
  View v;
  if (a >= b || !viewOf(p, in.H, in.W, out.W, a, b, v)) return false;
  std::unordered_map<int, void*> ptrs{{DNNL_ARG_SRC, mut(in.row(0, 0, v.lo))},
                                      {DNNL_ARG_WEIGHTS, mut(weight)},
                                      {DNNL_ARG_DST, out.row(0, 0, a)}};
  if (bias != nullptr) ptrs.emplace(DNNL_ARG_BIAS, mut(bias));
  return run(bias != nullptr ? kForwardBias : kForward, p, in, out, a, b, v, workspace, workspaceFloats,
             std::move(ptrs));
}

bool backward_data_zeroed(RowBand dIn, ConstRowBand dOut, const float* weight, const Conv2dParams& p, int64_t a,
                          int64_t b, float* workspace, int64_t workspaceFloats) {
  View v;
  if (a >= b || !viewOf(p, dIn.H, dIn.W, dOut.W, a, b, v)) return false;
  // The view's columns past Wv are never read, so they stay as the caller zeroed them.
  return run(kBackwardData, p, dIn, dOut, a, b, v, workspace, workspaceFloats,
             {{DNNL_ARG_SRC, dIn.row(0, 0, v.lo)}, {DNNL_ARG_WEIGHTS, mut(weight)}, {DNNL_ARG_DST, mut(dOut.row(0, 0, a))}});
}

bool backward_weights(float* dWeight, ConstRowBand dOut, ConstRowBand in, const Conv2dParams& p, int64_t a, int64_t b,
                      bool accumulate, float* workspace, int64_t workspaceFloats) {
  View v;
  if (a >= b || !viewOf(p, in.H, in.W, dOut.W, a, b, v)) return false;
  const int64_t count = dOut.C * (in.C / p.group) * p.h.kernel * p.w.kernel;
  // Accumulating: the gradient goes to a buffer at the workspace's start (rounded to 64 bytes
  // so the scratchpad after it stays aligned) and is added.
  const int64_t tempFloats = accumulate ? (count + 15) / 16 * 16 : 0;
  if (tempFloats > workspaceFloats) return false;
  float* target = accumulate ? workspace : dWeight;
  if (!run(kBackwardWeights, p, in, dOut, a, b, v, workspace == nullptr ? nullptr : workspace + tempFloats,
           workspaceFloats - tempFloats,
           {{DNNL_ARG_SRC, mut(in.row(0, 0, v.lo))}, {DNNL_ARG_WEIGHTS, target}, {DNNL_ARG_DST, mut(dOut.row(0, 0, a))}}))
    return false;
  if (accumulate)
    for (int64_t i = 0; i < count; ++i) dWeight[i] += workspace[i];
  return true;
}

int64_t cached_primitives() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  int64_t n = 0;
  for (const auto& [key, e] : c.entries) n += e.prim != nullptr;
  return n;
}

}  // namespace lrc::cpu::dnnl_conv

#else  // without oneDNN: the im2col kernels run every call

namespace lrc::cpu::dnnl_conv {
bool available() { return false; }
bool forward(RowBand, ConstRowBand, const float*, const float*, const kernels::Conv2dParams&, int64_t, int64_t, float*,
             int64_t) {
  return false;
}
bool backward_data_zeroed(RowBand, ConstRowBand, const float*, const kernels::Conv2dParams&, int64_t, int64_t, float*,
                          int64_t) {
  return false;
}
bool backward_weights(float*, ConstRowBand, ConstRowBand, const kernels::Conv2dParams&, int64_t, int64_t, bool, float*,
                      int64_t) {
  return false;
}
int64_t cached_primitives() { return 0; }
}  // namespace lrc::cpu::dnnl_conv

#endif
