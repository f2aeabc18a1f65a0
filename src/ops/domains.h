// The op domains quench knows, spelled once.
#pragma once

namespace quench {

inline constexpr const char* kOnnxDomain = "";  // ai.onnx
inline constexpr const char* kMsDomain = "com.microsoft";
// quench's own ops (fusions, lowered QDQ units), made by its passes and never exported.
inline constexpr const char* kInternalDomain = "quench.internal";

}  // namespace quench
