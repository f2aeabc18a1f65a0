// Failing with a quench::Error from inside the library: fail() formats the message (what, where,
// expected vs got), QUENCH_CHECK tests a condition first. Not part of the public API.
#pragma once

#include <fmt/format.h>

#include <utility>

#include "quench/error.h"

namespace quench {

template <class... Args>
[[noreturn]] void fail(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(kind, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace quench

// Throws quench::Error(kind, formatted message) when `cond` is false.
#define QUENCH_CHECK(cond, kind, ...)                         \
  do {                                                        \
    if (!(cond)) ::quench::fail(::quench::kind, __VA_ARGS__); \
  } while (false)
