// Training checkpoints (train/checkpoint.h): the file read for a fixed run key, the key that the
// seeds of corpus/checkpoint/ were written with (make_seeds.py), so that a valid file passes the
// key check and its tensors are read.
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_input.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace quench;
  fuzz::set_fuzz_limits();
  const std::filesystem::path dir = fuzz::as_file(data, 0, ".checkpoint-dir").parent_path() / "ck";
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(train::checkpoint_path(dir), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  train::CheckpointKey key;
  key.parameters = {{"W", {2, 2}}, {"b", {2}}};
  key.start_hash = "0000000000000000";
  key.settings = {{"batch", "8"}};
  try {
    const train::CheckpointState s = train::read_checkpoint(dir, key);
    for (const auto& [name, t] : s.tensors) {
      if (t.nbytes() > 0) (void)static_cast<const unsigned char*>(t.raw_data())[t.nbytes() - 1];
    }
  } catch (const Error&) {
  }
  return 0;
}
