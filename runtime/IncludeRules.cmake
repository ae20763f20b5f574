# The backends are siblings: what the CPU and CUDA backends share lives in runtime/kernels/ (and
# the backend-neutral runtime/*.h), which both include; neither includes the other. Run as
#   cmake -DLRC_SOURCE_DIR=<repo root> -P runtime/IncludeRules.cmake
# by the build (target check_include_rules, before lrc_runtime and lrc_cuda compile) and by
# ctest (include_rules). Fails listing every #include that breaks a rule.
if(NOT LRC_SOURCE_DIR)
  message(FATAL_ERROR "IncludeRules.cmake: set LRC_SOURCE_DIR to the repository root")
endif()

set(violations "")
# check(<glob relative to the root> <what may not be included: a regex on the path> <why>)
function(check pattern forbidden why)
  file(GLOB files RELATIVE ${LRC_SOURCE_DIR} ${LRC_SOURCE_DIR}/${pattern})
  foreach(file ${files})
    file(STRINGS ${LRC_SOURCE_DIR}/${file} lines REGEX "^[ \t]*#[ \t]*include")
    foreach(line ${lines})
      if(line MATCHES "#[ \t]*include[ \t]*[\"<]([^\">]*)[\">]" AND CMAKE_MATCH_1 MATCHES "${forbidden}")
        string(APPEND violations "  ${file}: ${line}  (${why})\n")
      endif()
    endforeach()
  endforeach()
  set(violations "${violations}" PARENT_SCOPE)
endfunction()

foreach(ext h cpp cu cuh)
  check("runtime/cuda/*.${ext}" "^runtime/cpu/" "the CUDA backend takes what it shares with the CPU from runtime/kernels/")
  check("runtime/cpu/*.${ext}" "^runtime/cuda/" "the CPU backend takes what it shares with CUDA from runtime/kernels/")
  check("runtime/kernels/*.${ext}" "^runtime/(cpu|cuda)/" "runtime/kernels/ is neutral: it includes no backend")
  check("runtime/*.${ext}" "^runtime/(cpu|cuda)/" "the backend-neutral runtime includes no backend")
endforeach()

if(violations)
  message(FATAL_ERROR "include rules broken:\n${violations}")
endif()
