// The CPU kernels' checks and copies on row bands (runtime/kernels/RowBand.h: the band, its
// conventions, and the window formulas both backends share).
//
// Every kernel in lrc::cpu checks containment once at entry; violations throw
// std::invalid_argument naming the kernel, the band and the rows.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "runtime/kernels/RowBand.h"
#include "runtime/kernels/Window.h"

namespace lrc::cpu {

// The shared band and window types the CPU kernels take.
using kernels::ConstRowBand;
using kernels::full_band;
using kernels::RowBand;
using kernels::RowRange;
using kernels::window_input_rows;
using kernels::window_output_size;
using kernels::WindowAxis;

// Checks kernel >= 1, stride >= 1, dilation >= 1, pads >= 0; throws std::invalid_argument
// naming the kernel and the axis ("height" or "width") otherwise.
void check_window(const char* kernel, const char* axisName, const WindowAxis& axis);

// Checks that `band` is well formed (non-null data, non-negative sizes, rows inside
// [0, H)); throws std::invalid_argument("<kernel>: <name> band ...") otherwise.
void check_band(const char* kernel, const char* name, ConstRowBand band);

// Checks that `band` holds rows `needed`; throws std::invalid_argument otherwise, with a
// message giving both ranges and `why` (for example "output rows [2, 4) read").
void require_rows(const char* kernel, const char* name, ConstRowBand band, RowRange needed, const char* why);

// Checks 0 <= a <= b <= band.H and that `band` holds [a, b): the output-row range a
// kernel is asked to compute (or the gradient rows it is asked to propagate).
void check_output_rows(const char* kernel, const char* name, ConstRowBand band, int64_t a, int64_t b);

// Checks that every band is well formed, of the first band's map, and holds rows [a, b) (the
// element-wise kernels' rule); the names go into the message.
void check_rows_of_one_map(const char* kernel, std::initializer_list<std::pair<const char*, ConstRowBand>> bands,
                           int64_t a, int64_t b);

// dst rows [a, b) = src rows [a, b) (all images and channels). Both bands must hold [a, b)
// and have the same N, C, H, W. Used to move rows between strip buffers.
void copy_rows(RowBand dst, ConstRowBand src, int64_t a, int64_t b);

// dst rows [a, b) += src rows [a, b): sums the gradients of rows that several strips touch.
void add_rows(RowBand dst, ConstRowBand src, int64_t a, int64_t b);

// Assembles a band from others of the same map (the rows_copy kernel): every row of `dst` is
// that row of the LAST source holding it, or 0 when no source does. Sources must not
// overlap `dst` in memory.
void gather_rows(RowBand dst, const std::vector<ConstRowBand>& sources);

// dst's rows = the sum over `sources` of their rows inside dst's range, 0 where no source
// holds a row (the rows_sum kernel: the input gradient of rows that several strips touched).
// Rows of a source outside dst's range are ignored. Sources must not overlap `dst`.
void sum_rows(RowBand dst, const std::vector<ConstRowBand>& sources);

}  // namespace lrc::cpu
