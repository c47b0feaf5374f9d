// cuda_pipeline_primitives.h for the CUDA emulator: found before the CUDA toolkit's (the loader puts
// this folder first on the include path). Everything it would declare is in cuda_emu.h, which every
// emulated module includes first; see the "cp.async" section there.
#include "cuda_emu.h"
