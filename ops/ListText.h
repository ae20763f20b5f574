// A list of integers as an error message prints it: `[a,b,c]`. A list longer than `most` is
// cut to its first values and its length (`[1,1,...] (16775176 values)`): lists come from
// models, and a 4 KiB model can fold a Pad's pads into 16 million values (found by
// fuzz_onnx_import), which printed whole made a 33 MB "one-line" error. Depends on nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lrc::ops {

inline std::string listText(const std::vector<int64_t>& v, size_t most = 16) {
  std::string s = "[";
  for (size_t i = 0; i < v.size() && i < most; ++i) s.append(i ? "," : "").append(std::to_string(v[i]));
  if (v.size() <= most) return s.append("]");
  return s.append(",...] (").append(std::to_string(v.size())).append(" values)");
}

}  // namespace lrc::ops
