// Units of work split over an OpenMP team of at most `threads` threads (fewer when there are fewer
// units or the runtime allows fewer), static schedule; one thread runs them in order without
// entering a parallel region. fn(unit, thread) gets the team member's index for its scratch.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace quench::x86 {

template <class Fn>
void parallel_units(int64_t count, int threads, Fn&& fn) {
  const int team = static_cast<int>(std::min<int64_t>({threads, omp_get_max_threads(), count}));
  if (team <= 1) {
    for (int64_t i = 0; i < count; ++i) fn(i, 0);
    return;
  }
#pragma omp parallel for num_threads(team) schedule(static)
  for (int64_t i = 0; i < count; ++i) fn(i, omp_get_thread_num());
}

}  // namespace quench::x86
