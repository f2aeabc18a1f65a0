# Sanitizer and fuzzing builds (docs/testing.md). Flags apply to every target of the project, so
# the library layers, the tests, the CLI and the fuzz targets are instrumented alike; the Debian
# libraries quench links (protobuf, ONNX, oneDNN, libgomp) are not.
#
#   -DQUENCH_SANITIZE=address  AddressSanitizer + UndefinedBehaviorSanitizer (any UB aborts)
#   -DQUENCH_SANITIZE=thread   ThreadSanitizer
#   -DQUENCH_FUZZ=ON           libFuzzer targets in tests/fuzz (clang only; implies address)

set(QUENCH_SANITIZE "" CACHE STRING "Sanitizer build: address (ASan+UBSan), thread (TSan) or empty")
set_property(CACHE QUENCH_SANITIZE PROPERTY STRINGS "" address thread)
option(QUENCH_FUZZ "Build the libFuzzer targets in tests/fuzz (needs clang)" OFF)

if(QUENCH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "QUENCH_FUZZ needs clang (libFuzzer): configure with CXX=clang++")
  endif()
  if(QUENCH_SANITIZE STREQUAL "")
    set(QUENCH_SANITIZE address CACHE STRING "" FORCE)
  endif()
  if(NOT QUENCH_SANITIZE STREQUAL "address")
    message(FATAL_ERROR "QUENCH_FUZZ builds with QUENCH_SANITIZE=address")
  endif()
endif()

if(QUENCH_SANITIZE STREQUAL "address")
  set(QUENCH_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                             -fno-omit-frame-pointer)
elseif(QUENCH_SANITIZE STREQUAL "thread")
  set(QUENCH_SANITIZER_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT QUENCH_SANITIZE STREQUAL "")
  message(FATAL_ERROR "QUENCH_SANITIZE must be address, thread or empty, not '${QUENCH_SANITIZE}'")
endif()

if(QUENCH_SANITIZER_FLAGS)
  # -O1 (after the build type's -O3): instrumented code compiles about twice as fast, and
  # sanitizer reports keep their line numbers (-g1).
  add_compile_options(${QUENCH_SANITIZER_FLAGS} -O1 -g1)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # At -O1 clang does not vectorize the `#pragma omp simd` loops and says so as a warning
    # (-Wpass-failed), an error under -Werror; the loops are correct either way.
    add_compile_options(-Wno-pass-failed)
  endif()
  add_link_options(${QUENCH_SANITIZER_FLAGS})
endif()
if(QUENCH_FUZZ)
  # Coverage for libFuzzer in every object; only the fuzz targets link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
