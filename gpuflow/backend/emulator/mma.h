// mma.h for the CUDA emulator: found before the CUDA toolkit's (the loader puts this folder first on
// the include path). Everything it would declare is in cuda_emu.h, which every emulated module
// includes first; see the "nvcuda::wmma" and "__half / __nv_bfloat16" sections there.
#include "cuda_emu.h"
