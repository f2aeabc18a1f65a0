// Streaming gzip decompression of an in-memory buffer (zlib).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace quench {

// Whether `bytes` starts with the gzip magic number.
bool is_gzip(std::string_view bytes);

class GzipReader {
 public:
  // `compressed` must outlive the reader; `path` names the file in errors.
  GzipReader(std::string_view compressed, std::string path);
  ~GzipReader();
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Decompresses up to `bytes` bytes into `dst`; returns fewer only at the end of the data.
  // Concatenated gzip members are read as one stream. kInvalidArgument naming the file for
  // corrupt or truncated data.
  uint64_t read(void* dst, uint64_t bytes);
  // Total bytes returned so far.
  uint64_t position() const { return position_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::string path_;
  uint64_t position_ = 0;
  bool finished_ = false;
};

}  // namespace quench
