// CPU feature detection (kernels/x86/cpu_features.h) against GCC's own CPUID reading, and the
// QUENCH_MAX_CPU_ISA cap.
#include "kernels/x86/cpu_features.h"

#include <gtest/gtest.h>

namespace quench::x86 {
namespace {

TEST(CpuFeatures, AgreesWithTheCompilersDetection) {
  const CpuFeatures f = detect_cpu_features();
  __builtin_cpu_init();
  EXPECT_EQ(f.avx2, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
  EXPECT_EQ(f.avx512, __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"));
  EXPECT_EQ(f.avx512_vnni, f.avx512 && __builtin_cpu_supports("avx512vnni"));
  EXPECT_EQ(f.avx512_vbmi, f.avx512 && __builtin_cpu_supports("avx512vbmi"));
  RecordProperty("features", f.describe());
}

TEST(CpuFeatures, CapsRemoveWhatLiesAboveTheLevel) {
  CpuFeatures all;
  all.avx2 = all.avx_vnni = all.avx512 = all.avx512_vnni = all.avx512_vbmi = all.avx512_bf16 =
      all.amx = true;
  EXPECT_EQ(all.level(), IsaLevel::kAvx512CoreAmx);
  const CpuFeatures vnni = cap_cpu_features(all, IsaLevel::kAvx512CoreVnni);
  EXPECT_TRUE(vnni.avx512_vnni && vnni.avx512_vbmi && vnni.avx_vnni);
  EXPECT_FALSE(vnni.avx512_bf16 || vnni.amx);
  const CpuFeatures avx2 = cap_cpu_features(all, IsaLevel::kAvx2);
  EXPECT_TRUE(avx2.avx2);
  EXPECT_FALSE(avx2.avx_vnni || avx2.avx512 || avx2.avx512_vnni);
  EXPECT_EQ(avx2.describe(), "avx2");
  EXPECT_EQ(cap_cpu_features(all, IsaLevel::kBaseline).describe(), "baseline");
}

TEST(CpuFeatures, ParsesOnednnsLevelNames) {
  IsaLevel level;
  ASSERT_TRUE(parse_isa_level("avx512_core_vnni", level));
  EXPECT_EQ(level, IsaLevel::kAvx512CoreVnni);
  ASSERT_TRUE(parse_isa_level("AVX2", level));
  EXPECT_EQ(level, IsaLevel::kAvx2);
  EXPECT_EQ(isa_level_name(IsaLevel::kAvx512CoreAmx), "AVX512_CORE_AMX");
  EXPECT_FALSE(parse_isa_level("avx9000", level));
}

}  // namespace
}  // namespace quench::x86
