#include "runtime/cpu/DnnlConv.h"

#ifdef LRC_HAVE_DNNL

#include <algorithm>
#include <cstdint>
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

template <class PD>
bool usable(const PD& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) != 0;  // oneDNN's reference loops are slower than im2col
}

constexpr int64_t kAlign = 16;  // floats: 64 bytes
int64_t aligned(int64_t floats) { return (floats + kAlign - 1) / kAlign * kAlign; }
int64_t floatsOf(const dnnl::memory::desc& d) { return aligned(static_cast<int64_t>((d.get_size() + 3) / 4)); }

// One convolution primitive of `kind` and the layouts it runs on. `in` is the input-shaped
// map (src, or diff_src for the input gradient), `out` the output-shaped one (dst or
// diff_dst); as built, these and `weights` are the layouts the primitive chose (the same as
// given for plain descriptors, oneDNN's blocked ones for tag::any).
struct Conv {
  std::unique_ptr<dnnl::primitive> prim;  // null: oneDNN offers only its reference loops
  dnnl::memory::desc in, weights, out;
  int64_t scratchFloats = 0;  // the user-mode scratchpad, rounded up to 64 bytes
};

// Builds the primitive of `kind` for the convolution `p` over view `v` on the given
// descriptors: the one place both forms (plain strided views, blocked tag::any) describe a
// convolution to oneDNN. `winograd`: oneDNN's Winograd algorithm (a primitive only where its
// jit_wino kernels take the shape), else the direct one. Throws dnnl::error for a shape
// oneDNN does not take.
Conv makeConv(Kind kind, const Conv2dParams& p, const View& v, const dnnl::memory::desc& in,
              const dnnl::memory::desc& weights, const dnnl::memory::desc& out, dnnl::engine& engine,
              bool winograd = false) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dims strides{p.h.stride, p.w.stride}, dil{p.h.dilation - 1, p.w.dilation - 1}, padL{v.padT, v.padL},
      padR{v.padB, v.padR};
  const auto fwdProp = dnnl::prop_kind::forward_training;
  const auto direct = winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct;
  const dnnl::memory::desc bias(dims{out.dims()[1]}, f32, tag::x);
  const dnnl::convolution_forward::primitive_desc fwd(
      kind == kForwardBias
          ? dnnl::convolution_forward::desc(fwdProp, direct, in, weights, bias, out, strides, dil, padL, padR)
          : dnnl::convolution_forward::desc(fwdProp, direct, in, weights, out, strides, dil, padL, padR),
      attr, engine);
  Conv c;
  const auto take = [&c, winograd](const auto& pd, const dnnl::memory::desc& i, const dnnl::memory::desc& w,
                                   const dnnl::memory::desc& o, auto prim) {
    if (!usable(pd)) return;
    if (winograd && std::string(pd.impl_info_str()).rfind("jit_wino", 0) != 0) return;
    c.prim = std::make_unique<decltype(prim)>(std::move(prim));
    c.in = i;
    c.weights = w;
    c.out = o;
    c.scratchFloats = floatsOf(pd.scratchpad_desc());
  };
  if (kind == kForward || kind == kForwardBias) {
    take(fwd, fwd.src_desc(), fwd.weights_desc(), fwd.dst_desc(), dnnl::convolution_forward(fwd));
  } else if (kind == kBackwardData) {
    const dnnl::convolution_backward_data::primitive_desc pd(
        dnnl::convolution_backward_data::desc(direct, in, weights, out, strides, dil, padL, padR), attr, engine, fwd);
    take(pd, pd.diff_src_desc(), pd.weights_desc(), pd.diff_dst_desc(), dnnl::convolution_backward_data(pd));
  } else {
    const dnnl::convolution_backward_weights::primitive_desc pd(
        dnnl::convolution_backward_weights::desc(direct, in, weights, out, strides, dil, padL, padR), attr, engine,
        fwd);
    take(pd, pd.src_desc(), pd.diff_weights_desc(), pd.diff_dst_desc(), dnnl::convolution_backward_weights(pd));
  }
  return c;
}

struct Cache {
  std::mutex mutex;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<std::vector<int64_t>, Conv> entries;  // the plain calls' primitives, by shape
};

Cache& cache() {
  static Cache c;
  return c;
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
  const dnnl::memory::desc src = viewDesc(in.N, in.C, v.hv, v.Wv, in.rows, in.W),
                           dst = viewDesc(out.N, out.C, b - a, out.W, out.rows, out.W),
                           weights = weightDesc(p, out.C, in.C);
  if (it == c.entries.end()) {
    Conv conv;
    try {
      conv = makeConv(kind, p, v, src, weights, dst, c.engine);
    } catch (const dnnl::error&) {
      conv = Conv{};  // a shape oneDNN does not take: the im2col kernel runs it
    }
    it = c.entries.emplace(key, std::move(conv)).first;
  }
  const Conv& e = it->second;
  if (!e.prim || e.scratchFloats > scratchFloats) return false;
  const bool backwardData = kind == kBackwardData, backwardWeights = kind == kBackwardWeights;
  std::unordered_map<int, dnnl::memory> args;
  args.emplace(backwardData ? DNNL_ARG_DIFF_SRC : DNNL_ARG_SRC, dnnl::memory(src, c.engine, ptrs.at(DNNL_ARG_SRC)));
  args.emplace(backwardWeights ? DNNL_ARG_DIFF_WEIGHTS : DNNL_ARG_WEIGHTS,
               dnnl::memory(weights, c.engine, ptrs.at(DNNL_ARG_WEIGHTS)));
  args.emplace(kind == kForward || kind == kForwardBias ? DNNL_ARG_DST : DNNL_ARG_DIFF_DST,
               dnnl::memory(dst, c.engine, ptrs.at(DNNL_ARG_DST)));
  if (kind == kForwardBias)
    args.emplace(DNNL_ARG_BIAS,
                 dnnl::memory(dnnl::memory::desc(dims{out.C}, f32, tag::x), c.engine, ptrs.at(DNNL_ARG_BIAS)));
  if (e.scratchFloats > 0)
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 dnnl::memory(dnnl::memory::desc(dims{e.scratchFloats * 4}, dnnl::memory::data_type::u8, tag::x),
                              c.engine, scratch));
  e.prim->execute(c.stream, args);
  c.stream.wait();
  return true;
}

void* mut(const float* p) { return const_cast<float*>(p); }  // oneDNN takes void* for inputs too

// ---- blocked formats: the views reordered into oneDNN's own layouts inside the workspace ----
//
// A call runs in chunks of `images` images by `rows` output rows (one image and fewer rows
// when the band's do not fit): per chunk the inputs' views are reordered into blocked
// buffers, the convolution runs on those, and its result is reordered back into the view
// (adding where chunks overlap: an input gradient's halo rows, the weight gradient's chunks).
// The workspace holds [weights | input-shaped chunk | output-shaped chunk | scratchpad].

struct Chunk {
  int64_t n0, images, a, b;  // images [n0, n0 + images), output rows [a, b)
  View v;
};

// The primitives of one chunk shape (images, a, b): the convolution and the reorders.
struct ChunkPrims {
  std::unique_ptr<dnnl::primitive> conv, inReorder, outReorder;
  dnnl::memory::desc inUser, outUser, inBlk, outBlk;  // input-shaped and output-shaped: views and blocked
  dnnl::memory::desc inBlkPart;  // the part of inBlk the input gradient's view gets (all of it but for Winograd's)
  int64_t scratchFloats = 0;
};

struct BlockedPlan {
  bool ok = false;
  bool winograd = false;  // the chunks run oneDNN's Winograd kernels
  bool noFastPrimitive = false;  // oneDNN offers only its reference loops for a chunk
  std::vector<Chunk> chunks;
  std::map<std::vector<int64_t>, ChunkPrims> prims;  // by {images, a, b}
  dnnl::memory::desc wUser, wBlk;
  std::unique_ptr<dnnl::primitive> wReorder, wReorderSum;  // weights user -> blocked; gradient blocked -> user (+)
  int64_t wFloats = 0, inFloats = 0, outFloats = 0, scratchFloats = 0;
};

std::map<std::vector<int64_t>, BlockedPlan>& blockedPlans() {
  static std::map<std::vector<int64_t>, BlockedPlan> plans;
  return plans;
}

std::unique_ptr<dnnl::primitive> makeReorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to,
                                             dnnl::engine& engine, bool sum) {
  dnnl::primitive_attr attr;
  if (sum) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  return std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(engine, from, engine, to, attr));
}

// Builds the primitives of the chunks; false when a shape has no fast primitive or the
// chunks' buffers do not fit in `wsFloats`.
bool buildBlocked(Kind kind, const Conv2dParams& p, ConstRowBand in, ConstRowBand out, int64_t images, int64_t rows,
                  int64_t a, int64_t b, int64_t wsFloats, BlockedPlan& plan, dnnl::engine& engine,
                  bool winograd = false) {
  plan = BlockedPlan{};
  plan.winograd = winograd;
  const auto anyDesc = [](int64_t n, int64_t c, int64_t h, int64_t w) {
    return dnnl::memory::desc(dims{n, c, h, w}, f32, tag::any);
  };
  plan.wUser = weightDesc(p, out.C, in.C);
  const dnnl::memory::desc wAny = dnnl::memory::desc(plan.wUser.dims(), f32, tag::any);
  for (int64_t n0 = 0; n0 < in.N; n0 += images)
    for (int64_t r = a; r < b; r += rows) {
      Chunk c{n0, std::min(images, in.N - n0), r, std::min(b, r + rows), {}};
      if (!viewOf(p, in.H, in.W, out.W, c.a, c.b, c.v)) return false;
      plan.chunks.push_back(c);
      const std::vector<int64_t> key{c.images, c.a, c.b};
      if (plan.prims.count(key)) continue;
      ChunkPrims& cp = plan.prims[key];
      const View& v = c.v;
      cp.inUser = viewDesc(c.images, in.C, v.hv, v.Wv, in.rows, in.W);
      cp.outUser = viewDesc(c.images, out.C, c.b - c.a, out.W, out.rows, out.W);
      // Winograd's input gradient on a view with pads: oneDNN 2.6's jit_wino_4x3 gives wrong
      // results where a view's pads differ (top from bottom, left from right: a band's first
      // and last chunks; cpu_kernels_conv_dnnl_test), so it runs unpadded on the view grown by
      // its pads, and only the view's part goes back (the pad rows' gradient is dropped).
      View e = v;
      const bool grow = winograd && kind == kBackwardData;
      if (grow) {
        e.hv += v.padT + v.padB;
        e.Wv += v.padL + v.padR;
        e.padT = e.padB = e.padL = e.padR = 0;
      }
      Conv conv = makeConv(kind, p, e, anyDesc(c.images, in.C, e.hv, e.Wv), wAny,
                           anyDesc(c.images, out.C, c.b - c.a, out.W), engine, winograd);
      if (!conv.prim) return !(plan.noFastPrimitive = true);
      cp.conv = std::move(conv.prim);
      cp.inBlk = conv.in;
      cp.inBlkPart = grow ? conv.in.submemory_desc(dims{c.images, in.C, v.hv, v.Wv}, dims{0, 0, v.padT, v.padL})
                          : conv.in;
      cp.outBlk = conv.out;
      cp.scratchFloats = conv.scratchFloats;
      const dnnl::memory::desc& wBlk = conv.weights;
      if (kind == kForward || kind == kForwardBias) {
        cp.inReorder = makeReorder(cp.inUser, cp.inBlk, engine, false);
        cp.outReorder = makeReorder(cp.outBlk, cp.outUser, engine, false);
      } else if (kind == kBackwardData) {
        cp.outReorder = makeReorder(cp.outUser, cp.outBlk, engine, false);  // dy in
        cp.inReorder = makeReorder(cp.inBlkPart, cp.inUser, engine, true);  // dx out, adding
      } else {
        cp.inReorder = makeReorder(cp.inUser, cp.inBlk, engine, false);
        cp.outReorder = makeReorder(cp.outUser, cp.outBlk, engine, false);
      }
      if (plan.wFloats == 0) {
        plan.wBlk = wBlk;
        plan.wFloats = floatsOf(wBlk);
      } else if (wBlk != plan.wBlk) {
        return false;  // chunks that want the weights in different layouts: not worth it
      }
      plan.inFloats = std::max(plan.inFloats, floatsOf(cp.inBlk));
      plan.outFloats = std::max(plan.outFloats, floatsOf(cp.outBlk));
      plan.scratchFloats = std::max(plan.scratchFloats, cp.scratchFloats);
      if (plan.wFloats + plan.inFloats + plan.outFloats + plan.scratchFloats > wsFloats) return false;
    }
  if (kind == kBackwardWeights) {
    plan.wReorder = makeReorder(plan.wBlk, plan.wUser, engine, false);
    plan.wReorderSum = makeReorder(plan.wBlk, plan.wUser, engine, true);
  } else {
    plan.wReorder = makeReorder(plan.wUser, plan.wBlk, engine, false);
  }
  plan.ok = true;
  return true;
}

// Builds `plan` for chunks of `images` images by `rows` output rows, or fewer where they do not
// fit (half the images, then half the rows: Winograd's in multiples of 4, a tile's height), at
// most `tries` builds; stops where oneDNN has no fast kernel for the shape. False (and `plan`
// empty) where none was built.
bool buildShrinking(Kind kind, const Conv2dParams& p, ConstRowBand in, ConstRowBand out, int64_t images, int64_t rows,
                    int64_t a, int64_t b, int64_t wsFloats, BlockedPlan& plan, dnnl::engine& engine, bool winograd,
                    int tries) {
  try {
    for (int t = 0; t < tries && rows >= 1; ++t) {
      if (buildBlocked(kind, p, in, out, images, rows, a, b, wsFloats, plan, engine, winograd)) return true;
      if (plan.noFastPrimitive) break;  // fewer rows will not help
      if (images > 1)
        images = (images + 1) / 2;
      else if (winograd)
        rows = rows > 4 ? (rows / 2 + 3) / 4 * 4 : rows / 2;
      else if (rows > 1)
        rows = (rows + 1) / 2;
      else
        break;
    }
  } catch (const dnnl::error&) {
  }
  plan = BlockedPlan{};
  return false;
}

// Chooses the chunking for a call (the band's rows for as many images as fit, else fewer
// rows of one image) and builds it; the plan is cached by the call's shape and workspace.
// `wsAligned`: the workspace starts at 64 bytes (the plan's arena places scratch so); oneDNN's
// Winograd weight gradient faults otherwise (a unit test's std::vector), so Winograd runs only then.
const BlockedPlan& blockedPlan(Kind kind, const Conv2dParams& p, ConstRowBand in, ConstRowBand out, int64_t a,
                               int64_t b, int64_t wsFloats, bool wsAligned, dnnl::engine& engine) {
  const std::vector<int64_t> key{kind,       in.N,       in.C,         in.H,         in.W,       in.rows,
                                 in.row0,    out.C,      out.W,        out.rows,     out.row0,   a,
                                 b,          p.h.kernel, p.w.kernel,   p.h.stride,   p.w.stride, p.h.dilation,
                                 p.w.dilation, p.h.padBegin, p.h.padEnd, p.w.padBegin, p.w.padEnd, p.group,
                                 wsFloats,   p.winograd && wsAligned};
  auto& plans = blockedPlans();
  auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  BlockedPlan& plan = plans[key];
  // Winograd (the plan's winograd=1): chunks as ops::convWinogradChunk, the rule plan-memory
  // sized the scratch by; fewer rows where oneDNN asks for more than the bound (it should
  // not); the direct kernels below when it does not fit at all.
  if (p.winograd && wsAligned) {
    const ops::WinogradChunk wc = ops::convWinogradChunk(out.C, in.C, out.W, b - a, in.N);
    if (buildShrinking(kind, p, in, out, wc.images, wc.rows, a, b, wsFloats, plan, engine, true, 4)) return plan;
  }
  // Estimates with channels padded to 16 pick the first try; the built plan checks exactly.
  const int64_t c16 = aligned(in.C), k16 = aligned(out.C);
  const int64_t wEst = aligned(p.group == 1 ? k16 * c16 : out.C * (in.C / p.group) + 256) * p.h.kernel * p.w.kernel;
  const int64_t perRow = c16 * in.W * p.h.stride + k16 * out.W;  // one output row's share of both chunks
  const int64_t halo = c16 * in.W * ((p.h.kernel - 1) * p.h.dilation + 1);
  const int64_t left = wsFloats - wEst;
  int64_t rows = left <= halo ? 1 : std::clamp<int64_t>((left - halo) / std::max<int64_t>(perRow, 1), 1, b - a);
  int64_t images = 1;
  if (rows == b - a) images = std::clamp<int64_t>(left / std::max<int64_t>(perRow * (b - a) + halo, 1), 1, in.N);
  buildShrinking(kind, p, in, out, images, rows, a, b, wsFloats, plan, engine, false, 6);
  return plan;
}

// The offsets of a chunk's views in the bands.
void* inView(ConstRowBand in, const Chunk& c) { return mut(in.row(c.n0, 0, c.v.lo)); }
void* outView(ConstRowBand out, const Chunk& c) { return mut(out.row(c.n0, 0, c.a)); }

int64_t& chunksRun() {
  static int64_t n = 0;
  return n;
}

int64_t& winogradChunksRun() {
  static int64_t n = 0;
  return n;
}

bool runBlocked(Kind kind, const Conv2dParams& p, ConstRowBand in, ConstRowBand out, int64_t a, int64_t b,
                float* weights, const float* bias, bool accumulate, float* ws, int64_t wsFloats) {
  if (ws == nullptr) return false;
  Cache& cc = cache();
  std::lock_guard<std::mutex> lock(cc.mutex);
  const BlockedPlan& plan = blockedPlan(kind, p, in, out, a, b, wsFloats, reinterpret_cast<uintptr_t>(ws) % 64 == 0, cc.engine);
  if (!plan.ok) return false;
  dnnl::engine& e = cc.engine;
  dnnl::stream& s = cc.stream;
  float* wBlk = ws;
  float* inBlk = wBlk + plan.wFloats;
  float* outBlk = inBlk + plan.inFloats;
  float* scratch = outBlk + plan.outFloats;
  dnnl::memory wUserMem(plan.wUser, e, weights), wBlkMem(plan.wBlk, e, wBlk);
  if (kind != kBackwardWeights) plan.wReorder->execute(s, {{DNNL_ARG_FROM, wUserMem}, {DNNL_ARG_TO, wBlkMem}});
  bool first = true;
  chunksRun() += static_cast<int64_t>(plan.chunks.size());
  if (plan.winograd) winogradChunksRun() += static_cast<int64_t>(plan.chunks.size());
  for (const Chunk& c : plan.chunks) {
    const ChunkPrims& cp = plan.prims.at({c.images, c.a, c.b});
    dnnl::memory inUser(cp.inUser, e, inView(in, c)), outUser(cp.outUser, e, outView(out, c));
    dnnl::memory inB(cp.inBlk, e, inBlk), outB(cp.outBlk, e, outBlk);
    std::unordered_map<int, dnnl::memory> args;
    if (cp.scratchFloats > 0)
      args.emplace(DNNL_ARG_SCRATCHPAD,
                   dnnl::memory(dnnl::memory::desc(dims{cp.scratchFloats * 4}, dnnl::memory::data_type::u8, tag::x),
                                e, scratch));
    if (kind == kForward || kind == kForwardBias) {
      cp.inReorder->execute(s, {{DNNL_ARG_FROM, inUser}, {DNNL_ARG_TO, inB}});
      args.emplace(DNNL_ARG_SRC, inB);
      args.emplace(DNNL_ARG_WEIGHTS, wBlkMem);
      args.emplace(DNNL_ARG_DST, outB);
      if (kind == kForwardBias)
        args.emplace(DNNL_ARG_BIAS, dnnl::memory(dnnl::memory::desc(dims{out.C}, f32, tag::x), e, mut(bias)));
      cp.conv->execute(s, args);
      cp.outReorder->execute(s, {{DNNL_ARG_FROM, outB}, {DNNL_ARG_TO, outUser}});
    } else if (kind == kBackwardData) {
      cp.outReorder->execute(s, {{DNNL_ARG_FROM, outUser}, {DNNL_ARG_TO, outB}});
      args.emplace(DNNL_ARG_DIFF_SRC, inB);
      args.emplace(DNNL_ARG_WEIGHTS, wBlkMem);
      args.emplace(DNNL_ARG_DIFF_DST, outB);
      cp.conv->execute(s, args);
      const dnnl::memory inPart(cp.inBlkPart, e, inBlk);
      cp.inReorder->execute(s, {{DNNL_ARG_FROM, inPart}, {DNNL_ARG_TO, inUser}});  // adds: halos overlap
    } else {
      cp.inReorder->execute(s, {{DNNL_ARG_FROM, inUser}, {DNNL_ARG_TO, inB}});
      cp.outReorder->execute(s, {{DNNL_ARG_FROM, outUser}, {DNNL_ARG_TO, outB}});
      args.emplace(DNNL_ARG_SRC, inB);
      args.emplace(DNNL_ARG_DIFF_WEIGHTS, wBlkMem);
      args.emplace(DNNL_ARG_DIFF_DST, outB);
      cp.conv->execute(s, args);
      const auto& back = first && !accumulate ? plan.wReorder : plan.wReorderSum;
      back->execute(s, {{DNNL_ARG_FROM, wBlkMem}, {DNNL_ARG_TO, wUserMem}});
    }
    first = false;
  }
  s.wait();
  return true;
}

}  // namespace

bool blocked_forward(RowBand out, ConstRowBand in, const float* weight, const float* bias, const Conv2dParams& p,
                     int64_t a, int64_t b, float* workspace, int64_t workspaceFloats) {
  if (a >= b) return false;
  return runBlocked(bias != nullptr ? kForwardBias : kForward, p, in, out, a, b, static_cast<float*>(mut(weight)),
                    bias, false, workspace, workspaceFloats);
}

bool blocked_backward_data_zeroed(RowBand dIn, ConstRowBand dOut, const float* weight, const Conv2dParams& p,
                                  int64_t a, int64_t b, float* workspace, int64_t workspaceFloats) {
  // Fewer than 16 input channels (an RGB stem): oneDNN's blocked input gradient measured 3x
  // slower than im2col there (docs/benchmarks.md).
  if (a >= b || dIn.C < 16) return false;
  return runBlocked(kBackwardData, p, dIn, dOut, a, b, static_cast<float*>(mut(weight)), nullptr, false, workspace,
                    workspaceFloats);
}

bool blocked_backward_weights(float* dWeight, ConstRowBand dOut, ConstRowBand in, const Conv2dParams& p, int64_t a,
                              int64_t b, bool accumulate, float* workspace, int64_t workspaceFloats) {
  if (a >= b) return false;
  return runBlocked(kBackwardWeights, p, in, dOut, a, b, dWeight, nullptr, accumulate, workspace, workspaceFloats);
}

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
  for (const auto& entry : c.entries) n += entry.second.prim != nullptr;
  for (const auto& plan : blockedPlans()) n += static_cast<int64_t>(plan.second.prims.size());
  return n;
}

int64_t blocked_chunks_run() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return chunksRun();
}

int64_t winograd_chunks_run() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return winogradChunksRun();
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
bool blocked_forward(RowBand, ConstRowBand, const float*, const float*, const kernels::Conv2dParams&, int64_t, int64_t,
                     float*, int64_t) {
  return false;
}
bool blocked_backward_data_zeroed(RowBand, ConstRowBand, const float*, const kernels::Conv2dParams&, int64_t, int64_t,
                                  float*, int64_t) {
  return false;
}
bool blocked_backward_weights(float*, ConstRowBand, ConstRowBand, const kernels::Conv2dParams&, int64_t, int64_t, bool,
                              float*, int64_t) {
  return false;
}
int64_t cached_primitives() { return 0; }
int64_t blocked_chunks_run() { return 0; }
int64_t winograd_chunks_run() { return 0; }
}  // namespace lrc::cpu::dnnl_conv

#endif
