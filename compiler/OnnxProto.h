// Small readers over ONNX protobuf messages, shared by the importer and the import-time
// constant folder: node attributes, and the values of a TensorProto (raw little-endian
// bytes or the typed fields).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/IR.h"
#include "ops/Checked.h"

namespace lrc::compiler {

namespace detail {

template <typename T, typename Out>
void appendRaw(const std::string& raw, std::vector<Out>& out) {
  const size_t n = raw.size() / sizeof(T);
  out.reserve(out.size() + n);
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    out.push_back(static_cast<Out>(v));
  }
}

template <typename Field, typename Out>
void appendTyped(const Field& field, std::vector<Out>& out) {
  out.reserve(out.size() + static_cast<size_t>(field.size()));
  for (auto v : field) out.push_back(static_cast<Out>(v));
}

inline std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';  // not `"," + string`: GCC 12's false -Wrestrict (bug 105329)
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace detail

// A node's attribute by name, or null. The ONNX checker has matched every attribute's type
// to the op schema, so callers read the field of that type.
inline const onnx::AttributeProto* findAttr(const onnx::NodeProto& n, std::string_view name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

inline int64_t intAttr(const onnx::NodeProto& n, std::string_view name, int64_t fallback) {
  const auto* a = findAttr(n, name);
  return a ? a->i() : fallback;
}

inline std::string onnxElemTypeName(int32_t t) {
  return onnx::TensorProto::DataType_IsValid(t)
             ? onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(t))
             : std::to_string(t);
}

// Reads the values of `t` (whose shape is `shape`) into the empty `reals` (FLOAT, DOUBLE)
// or `ints` (INT64, INT32, BOOL as 0/1), checking the count against the shape. Throws ir::Error naming `what`
// for other element types and for data that does not match the shape. External data must
// have been inlined by the caller.
template <typename Real>
void readTensorValues(const onnx::TensorProto& t, const std::vector<int64_t>& shape, const std::string& what,
                      std::vector<Real>& reals, std::vector<int64_t>& ints) {
  using onnx::TensorProto;
  const std::optional<int64_t> counted = ops::product(shape).value();
  if (!counted) throw ir::Error(what + " has shape " + detail::shapeText(shape) + ", more elements than int64 counts");
  const int64_t n = *counted;
  const bool raw = t.has_raw_data();
  size_t elemSize = 0;
  switch (t.data_type()) {
    case TensorProto::FLOAT:
      elemSize = 4;
      raw ? detail::appendRaw<float>(t.raw_data(), reals) : detail::appendTyped(t.float_data(), reals);
      break;
    case TensorProto::DOUBLE:
      elemSize = 8;
      raw ? detail::appendRaw<double>(t.raw_data(), reals) : detail::appendTyped(t.double_data(), reals);
      break;
    case TensorProto::INT64:
      elemSize = 8;
      raw ? detail::appendRaw<int64_t>(t.raw_data(), ints) : detail::appendTyped(t.int64_data(), ints);
      break;
    case TensorProto::INT32:
      elemSize = 4;
      raw ? detail::appendRaw<int32_t>(t.raw_data(), ints) : detail::appendTyped(t.int32_data(), ints);
      break;
    case TensorProto::BOOL:  // int32_data holds bools in the typed form
      elemSize = 1;
      raw ? detail::appendRaw<uint8_t>(t.raw_data(), ints) : detail::appendTyped(t.int32_data(), ints);
      for (int64_t& v : ints) v = v != 0;
      break;
    default:
      throw ir::Error(what + " has element type " + onnxElemTypeName(t.data_type()) +
                      "; lrc reads float and int64 tensors (and int32, bool or double shapes and scalars)");
  }
  const std::optional<int64_t> bytes = (ops::Checked(n) * static_cast<int64_t>(elemSize)).value();
  if (raw && (!bytes || t.raw_data().size() != static_cast<uint64_t>(*bytes)))
    throw ir::Error(what + " has " + std::to_string(t.raw_data().size()) + " bytes of data; its shape " +
                    detail::shapeText(shape) + " needs " +
                    (bytes ? std::to_string(*bytes) : std::to_string(n) + " x " + std::to_string(elemSize)));
  const bool real = t.data_type() == TensorProto::FLOAT || t.data_type() == TensorProto::DOUBLE;
  const size_t count = real ? reals.size() : ints.size();
  if (count != static_cast<size_t>(n))
    throw ir::Error(what + " holds " + std::to_string(count) + " values; its shape " + detail::shapeText(shape) +
                    " needs " + std::to_string(n));
}

}  // namespace lrc::compiler
