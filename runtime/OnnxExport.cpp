#include "runtime/OnnxExport.h"

#include <onnx/onnx_pb.h>

#include "runtime/plan/QuietProtobuf.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <vector>

namespace lrc::runtime {

namespace {

struct Target {
  uint32_t buffer;
  onnx::TensorProto* tensor;
};

std::string typeName(int type) {
  return onnx::TensorProto_DataType_IsValid(type)
             ? onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(type))
             : std::to_string(type);
}

// Parses the model and pairs each plan buffer that holds an initializer with it.
std::vector<Target> matchInitializers(const plan::Plan& plan, const std::string& planPath, onnx::ModelProto& model) {
  auto fail = [&](const std::string& what) {
    return std::runtime_error("plan " + planPath + "'s ONNX model: " + what);
  };
  if (plan.onnx_model().empty()) throw fail("the plan holds no ONNX model");
  bool parsed;
  {
    LRC_QUIET_PROTOBUF;  // the error below says it; Protobuf need not log it too
    parsed = model.ParseFromString(plan.onnx_model());
  }
  if (!parsed) throw fail("cannot be decoded");
  std::map<std::string, onnx::TensorProto*> initializers;
  for (onnx::TensorProto& t : *model.mutable_graph()->mutable_initializer()) initializers[t.name()] = &t;

  std::vector<Target> targets;
  for (int i = 0; i < plan.buffers_size(); ++i) {
    const plan::Buffer& b = plan.buffers(i);
    if (b.onnx_name().empty()) continue;
    auto it = initializers.find(b.onnx_name());
    if (it == initializers.end()) throw fail("no initializer '" + b.onnx_name() + "' for buffer '" + b.name() + "'");
    const onnx::TensorProto& t = *it->second;
    int64_t elements = 1, bufferElements = 1;
    for (int64_t d : t.dims()) elements *= d;
    for (int64_t d : b.shape()) bufferElements *= d;
    if (elements != bufferElements)
      throw fail("initializer '" + t.name() + "' has " + std::to_string(elements) + " elements, buffer '" + b.name() +
                 "' is " + plan::bufferType(b));
    const int type = t.data_type();
    const bool ok = b.dtype() == plan::F32 ? (type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE)
                                           : (type == onnx::TensorProto::INT64 || type == onnx::TensorProto::INT32);
    if (!ok)
      throw fail("initializer '" + t.name() + "' is of type " + typeName(type) + ", which buffer '" + b.name() + "' (" +
                 plan::bufferType(b) + ") cannot be written to");
    targets.push_back({static_cast<uint32_t>(i), it->second});
  }
  return targets;
}

// Little-endian raw_data of `count` values of type To converted from the From values in
// `bytes` (this code assumes a little-endian host, as the plan file does).
template <class From, class To>
std::string convert(const std::string& bytes) {
  const size_t count = bytes.size() / sizeof(From);
  std::vector<From> in(count);
  std::memcpy(in.data(), bytes.data(), count * sizeof(From));
  std::string out(count * sizeof(To), '\0');
  for (size_t i = 0; i < count; ++i) {
    const To v = static_cast<To>(in[i]);
    std::memcpy(out.data() + i * sizeof(To), &v, sizeof(To));
  }
  return out;
}

}  // namespace

void checkOnnxExport(const plan::Plan& plan, const std::string& planPath) {
  onnx::ModelProto model;
  matchInitializers(plan, planPath, model);
}

std::string exportOnnx(const plan::Plan& plan, const std::string& planPath, const BufferReader& read) {
  onnx::ModelProto model;
  for (const Target& target : matchInitializers(plan, planPath, model)) {
    onnx::TensorProto& t = *target.tensor;
    std::string bytes = read(target.buffer);
    t.clear_float_data();
    t.clear_double_data();
    t.clear_int32_data();
    t.clear_int64_data();
    t.clear_external_data();
    t.set_data_location(onnx::TensorProto::DEFAULT);
    switch (t.data_type()) {
      case onnx::TensorProto::DOUBLE:
        bytes = convert<float, double>(bytes);
        break;
      case onnx::TensorProto::INT32:
        bytes = convert<int64_t, int32_t>(bytes);
        break;
      default:
        break;  // FLOAT from f32, INT64 from i64: as they are
    }
    t.set_raw_data(std::move(bytes));
  }
  std::string out;
  if (!model.SerializeToString(&out)) throw std::runtime_error("cannot serialize the trained ONNX model");
  return out;
}

void writeFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& reason) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot write: " + reason);
  };
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) fail(std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(std::strerror(errno));
}

}  // namespace lrc::runtime
