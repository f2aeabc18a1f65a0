// write_file_atomic under SIGKILL: a child process killed in the middle of writing leaves the
// output path as it was (absent, or the previous file), never a part of the new one.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>

#include "core/file_util.h"
#include "quench/files.h"

namespace quench {
namespace {
namespace fs = std::filesystem;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Forks a child that writes `bytes_before_kill` bytes of 'x' to `path` atomically, flushes them
// to the temporary file and kills itself with SIGKILL before the write completes.
void write_and_die(const fs::path& path, size_t bytes_before_kill) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    write_file_atomic(path, [&](std::ostream& out) {
      out << std::string(bytes_before_kill, 'x');
      out.flush();
      raise(SIGKILL);
    });
    _exit(0);  // not reached
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(AtomicWrite, KilledWriterLeavesNoPartialFile) {
  const TempDir dir("quench-kill");
  const fs::path path = dir.path() / "out.bin";
  write_and_die(path, 1 << 20);
  EXPECT_FALSE(fs::exists(path)) << "a killed first write left " << fs::file_size(path) << " bytes";
  write_file_atomic(path, std::string("complete"));
  write_and_die(path, 1 << 20);
  EXPECT_EQ(read_all(path), "complete");
}

}  // namespace
}  // namespace quench
