// Errors are exceptions carrying a kind and a message that says what, where and expected vs got.
#pragma once

#include <stdexcept>
#include <string>

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

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace quench
