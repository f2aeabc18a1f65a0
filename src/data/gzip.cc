#include "data/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "core/check.h"
#include "quench/error.h"

namespace quench {
namespace {

// Gzip header: 1f 8b, then the compression method (8 = deflate).
constexpr unsigned char kGzipMagic[] = {0x1f, 0x8b};
// Window bits for inflateInit2: 15 (largest window) + 16 (expect a gzip wrapper).
constexpr int kGzipWindowBits = 15 + 16;

}  // namespace

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == kGzipMagic[0] &&
         static_cast<unsigned char>(bytes[1]) == kGzipMagic[1];
}

struct GzipReader::State {
  z_stream stream{};
  std::string_view input;
  size_t consumed = 0;  // bytes of `input` handed to zlib
};

GzipReader::GzipReader(std::string_view compressed, std::string path)
    : state_(std::make_unique<State>()), path_(std::move(path)) {
  state_->input = compressed;
  QUENCH_CHECK(is_gzip(compressed), ErrorKind::kInvalidArgument, "'{}' is not gzip data", path_);
  if (inflateInit2(&state_->stream, kGzipWindowBits) != Z_OK) {
    fail(ErrorKind::kResource, "cannot start gzip decompression of '{}'", path_);
  }
}

GzipReader::~GzipReader() { inflateEnd(&state_->stream); }

uint64_t GzipReader::read(void* dst, uint64_t bytes) {
  z_stream& stream = state_->stream;
  auto* out = static_cast<unsigned char*>(dst);
  uint64_t done = 0;
  while (done < bytes && !finished_) {
    // zlib counts in uInt (32 bits): feed and drain at most that much per call.
    constexpr uint64_t kChunk = std::numeric_limits<uInt>::max();
    if (stream.avail_in == 0) {
      const size_t left = state_->input.size() - state_->consumed;
      const size_t feed = static_cast<size_t>(std::min<uint64_t>(left, kChunk));
      stream.next_in =
          reinterpret_cast<Bytef*>(const_cast<char*>(state_->input.data() + state_->consumed));
      stream.avail_in = static_cast<uInt>(feed);
      state_->consumed += feed;
    }
    const auto want = static_cast<uInt>(std::min<uint64_t>(bytes - done, kChunk));
    stream.next_out = out + done;
    stream.avail_out = want;
    const int status = inflate(&stream, Z_NO_FLUSH);
    done += want - stream.avail_out;
    if (status == Z_STREAM_END) {
      const size_t rest = stream.avail_in + (state_->input.size() - state_->consumed);
      const std::string_view next = state_->input.substr(state_->input.size() - rest);
      if (is_gzip(next)) {
        inflateReset(&stream);  // another member follows
      } else {
        finished_ = true;  // trailing padding after the last member is ignored, as gzip does
      }
    } else if (status == Z_BUF_ERROR && stream.avail_in == 0 &&
               state_->consumed == state_->input.size()) {
      fail(ErrorKind::kInvalidArgument,
           "'{}': gzip data is truncated (it ends after {} decompressed bytes)", path_,
           position_ + done);
    } else if (status != Z_OK && status != Z_BUF_ERROR) {  // Z_BUF_ERROR: feed more input
      fail(ErrorKind::kInvalidArgument, "'{}': corrupt gzip data after {} decompressed bytes: {}",
           path_, position_ + done, stream.msg != nullptr ? stream.msg : zError(status));
    }
  }
  position_ += done;
  return done;
}

}  // namespace quench
