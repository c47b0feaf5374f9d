"""Runs the CUDA C kernels of ``cuda_kernels/*.cu`` on the CPU, unmodified, through CuPy's API.

    from gpuflow.backend.emulator import RawModule
    mod = RawModule(code=source, options=("-I/path/to/cuda_kernels",), name="conv2d.cu")
    k = mod.get_function("conv2d_fwd_f32")          # an extern "C" __global__ entry point
    k(grid, block, args, shared_mem=0)              # as cupy.RawKernel.__call__

``args`` are C-contiguous NumPy arrays (the device pointers; the dtype must match the pointee:
float32 for ``const float*``) and NumPy scalars whose type matches the parameter exactly
(``np.int32`` for ``int``; a Python float or int is refused, since CuPy would pass it as a 64-bit
value). The source is compiled with the system C++ compiler against ``cuda_emu.h`` (the CUDA
built-ins) and linked with ``cuda_emu_runtime.cpp`` (a fiber scheduler: each CUDA thread of a block
is a fiber; fibers switch at barriers and warp intrinsics; blocks run one after another).
Libraries are cached in ``$GPUFLOW_CACHE/emulator`` (default ``~/.cache/gpuflow/emulator``).

Environment:
    GPUFLOW_EMU_SCHEDULE=forward|reverse|shuffle   order of the threads between two barriers
                                                   (and of the blocks); default forward
    GPUFLOW_EMU_SEED=<int>                          seed of the shuffled order (default 0)
    GPUFLOW_EMU_BOUNDS=1                            out-of-bounds detection (AddressSanitizer, in a
                                                    worker process)
    GPUFLOW_EMU_CXX=<compiler>                      C++ compiler (default g++, else clang++)
    GPUFLOW_EMU_STACK_KB=<n>                        fiber stack size (default 64; 512 under ASan)
    GPUFLOW_EMU_UCONTEXT=1                          use the portable ucontext switch on x86-64 too

Errors: CompileError (compiler messages at the .cu file's lines), LaunchError (deadlock, divergent
barrier, misused warp intrinsic, __trap/assert), OutOfBoundsError (bounds checking), TypeError /
ValueError (launch configuration and arguments). What cannot be emulated is listed in README.md
next to this file.
"""
from ._build import CompileError, EmulatorError, cache_dir, stats
from ._module import LaunchError, OutOfBoundsError, RawKernel, RawModule

__all__ = ["RawModule", "RawKernel", "EmulatorError", "CompileError", "LaunchError", "OutOfBoundsError",
           "cache_dir", "stats"]
