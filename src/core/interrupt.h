// The interrupt flag inside the library (quench/interrupt.h is the public part): long loops call
// check_interrupted().
#pragma once

#include "quench/interrupt.h"

namespace quench {

// Throws Error(kInterrupted) when an interrupt was requested.
void check_interrupted();

}  // namespace quench
