// What every fuzz target treats as a finding, besides the sanitizers' reports, crashes and
// hangs that libFuzzer catches itself: an exception that is not one of lrc's one-line
// errors. lrc reports bad input as std::runtime_error (ir::Error and the plan and data
// errors derive from it); anything else (std::out_of_range from a bounds-checked lookup,
// std::bad_alloc from a size taken from the input, std::length_error) is what the tools
// print as "internal error" and is a bug.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>

namespace lrc::fuzz {

template <class Body>
void expectCleanError(const char* target, Body&& body) {
  try {
    body();
  } catch (const std::runtime_error&) {
    // A located one-line error: what bad input must give.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", target, e.what());
    std::abort();
  }
}

}  // namespace lrc::fuzz
