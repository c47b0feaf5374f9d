"""``gpuflow bench``: gpuflow's ops and whole models against PyTorch and Keras, in one run.

Modules:
    specs     the ops, the ``--shape`` grammar, standard shape sets, FLOPs and minimum bytes
    timing    warm-up, then median and IQR of repeats (wall clock + synchronize, or CUDA events)
    peaks     GPU datasheet peaks (H100, H200, A100, L4, RTX 4090); the CPU's, measured in the run
    env       what every result records: versions, BLAS and threads, device, driver, git commit, date
    ops       the ops suite (backend primitives vs PyTorch / TensorFlow kernels)
    model     the model suite (training step, epoch, samples/s, peak memory, accuracy)
    peers     PyTorch and Keras: availability, like-with-like settings, subprocess workers
    worker    ``python -m gpuflow.bench.worker``: one framework's share, in its own process
    report    the JSON document and its tables (text, Markdown)
    schema    the JSON schema of a result, and a validator (result.schema.json is its export)
    progress  the live progress line on stderr

Nothing here is imported by ``import gpuflow``; the CLI (:mod:`gpuflow.cli`) loads it on use.
"""
