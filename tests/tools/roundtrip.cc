// roundtrip IN.onnx OUT.onnx: import then export, for the ONNX Runtime round-trip test.
#include <cstdio>

#include "quench/model_io.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: roundtrip IN.onnx OUT.onnx\n");
    return 2;
  }
  try {
    quench::save_model(quench::load_model(argv[1]), argv[2]);
  } catch (const quench::Error& e) {
    std::fprintf(stderr, "roundtrip: %s\n", e.what());
    return 1;
  }
  return 0;
}
