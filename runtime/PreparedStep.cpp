// Reading the attributes of a validated plan's steps (runtime/PreparedStep.h).
#include "runtime/PreparedStep.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lrc::runtime {

const plan::Attr* findAttr(const plan::Step& step, std::string_view name) {
  for (const plan::Attr& a : step.attrs())
    if (a.name() == name) return &a;
  return nullptr;
}

bool runsOnRows(const plan::Plan& plan, const plan::Step& step) {
  auto band = [&](uint32_t index) { return plan.buffers(static_cast<int>(index)).height() > 0; };
  return findAttr(step, "rows") != nullptr || std::any_of(step.inputs().begin(), step.inputs().end(), band) ||
         std::any_of(step.outputs().begin(), step.outputs().end(), band);
}

namespace {
const plan::Attr& requireAttr(const plan::Step& step, std::string_view name) {
  const plan::Attr* a = findAttr(step, name);
  if (!a) throw std::runtime_error(step.kernel() + ": missing attribute '" + std::string(name) + "'");
  return *a;
}
}  // namespace

int64_t attrInt(const plan::Step& step, std::string_view name) {
  const plan::Attr& a = requireAttr(step, name);
  if (a.is_float() || a.ints_size() != 1)
    throw std::runtime_error(step.kernel() + ": attribute '" + std::string(name) + "' is not one integer");
  return a.ints(0);
}

double attrFloat(const plan::Step& step, std::string_view name) {
  const plan::Attr& a = requireAttr(step, name);
  if ((a.is_float() ? a.floats_size() : a.ints_size()) != 1)
    throw std::runtime_error(step.kernel() + ": attribute '" + std::string(name) + "' is not one number");
  return a.is_float() ? a.floats(0) : static_cast<double>(a.ints(0));
}

std::vector<int64_t> attrInts(const plan::Step& step, std::string_view name) {
  const plan::Attr& a = requireAttr(step, name);
  if (a.is_float()) throw std::runtime_error(step.kernel() + ": attribute '" + std::string(name) + "' is not integers");
  return {a.ints().begin(), a.ints().end()};
}

namespace {
std::vector<int64_t> attrIntsOfSize(const plan::Step& step, std::string_view name, size_t size) {
  std::vector<int64_t> v = attrInts(step, name);
  if (v.size() != size)
    throw std::runtime_error(step.kernel() + ": attribute '" + std::string(name) + "' must have " +
                             std::to_string(size) + " values");
  return v;
}

void setWindows(kernels::WindowAxis& h, kernels::WindowAxis& w, const plan::Step& step, bool dilation) {
  const std::vector<int64_t> stride = attrIntsOfSize(step, "stride", 2), pad = attrIntsOfSize(step, "pad", 4);
  h.stride = stride[0];
  w.stride = stride[1];
  h.padBegin = pad[0];
  w.padBegin = pad[1];
  h.padEnd = pad[2];
  w.padEnd = pad[3];
  if (dilation) {
    const std::vector<int64_t> d = attrIntsOfSize(step, "dilation", 2);
    h.dilation = d[0];
    w.dilation = d[1];
  }
}
}  // namespace

kernels::Conv2dParams convParams(const plan::Step& step, int64_t kernelH, int64_t kernelW) {
  kernels::Conv2dParams p;
  p.h.kernel = kernelH;
  p.w.kernel = kernelW;
  setWindows(p.h, p.w, step, true);
  p.group = attrInt(step, "group");
  return p;
}

kernels::Pool2dParams poolParams(const plan::Step& step, bool average) {
  kernels::Pool2dParams p;
  const std::vector<int64_t> kernel = attrIntsOfSize(step, "kernel", 2);
  p.h.kernel = kernel[0];
  p.w.kernel = kernel[1];
  setWindows(p.h, p.w, step, !average);
  p.ceilMode = attrInt(step, "ceil_mode") != 0;
  if (average) p.countIncludePad = attrInt(step, "count_include_pad") != 0;
  return p;
}

kernels::PadParams padParams(const plan::Step& step) {
  kernels::PadParams p;
  const std::vector<int64_t> pads = attrIntsOfSize(step, "pads", 8);
  std::copy(pads.begin(), pads.end(), p.pads);
  p.value = static_cast<float>(attrFloat(step, "value"));
  return p;
}

}  // namespace lrc::runtime
