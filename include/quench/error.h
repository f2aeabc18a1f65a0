// Errors are exceptions carrying a kind and a message that says what, where and expected vs got.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace quench {

enum class ErrorKind {
  kInvalidArgument,  // a caller passed something wrong (option, shape, dtype, path)
  kInvalidModel,     // the model file or graph is malformed
  kUnsupported,      // valid, but quench cannot do it (op, dtype, attribute value)
  kIo,               // a file could not be read or written
  kResource,         // a size limit would be exceeded (huge dims, memory)
  kInterrupted,      // the user interrupted long work (SIGINT)
  kInternal,         // a broken invariant inside quench
};

std::string_view error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

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
