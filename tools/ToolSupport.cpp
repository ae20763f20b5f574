#include "tools/ToolSupport.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

namespace lrc::tools {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ir::Error(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeOutput(const std::string& path, const std::string& content) {
  if (path == "-") {
    std::cout << content;
    std::cout.flush();
    return;
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw ir::Error(path + ": cannot write: " + std::strerror(errno));
    out << content;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw ir::Error(path + ": write failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string reason = std::strerror(errno);
    std::remove(tmp.c_str());
    throw ir::Error(path + ": cannot write: " + reason);
  }
}

std::string formatError(const std::string& file, const ir::Error& e, int lineOffset) {
  ir::Location loc = e.location();
  if (loc.line == 0) return file + ": error: " + e.what();
  return file + ":" + std::to_string(loc.line + lineOffset) + ":" + std::to_string(loc.col) +
         ": error: " + e.what();
}

}  // namespace lrc::tools
