"""Run by tests/test_distribute_mpi.py under ``mpiexec -n 2``: ``python distribute_worker.py MODE OUT_DIR``.

Each mode writes what the test compares to OUT_DIR/<mode>-<rank>.npz (or fails loudly).
"""
import os
import sys
import time

import numpy as np

MODE, OUT = sys.argv[1], sys.argv[2]


def save(**arrays):
    from mpi4py import MPI
    np.savez(os.path.join(OUT, f"{MODE}-{MPI.COMM_WORLD.Get_rank()}.npz"), **arrays)


def collectives():
    from gpuflow.distribute.mpi import MPICollectives
    c = MPICollectives(timeout_seconds=30)
    r = c.rank
    gathered = c.all_gather(np.full((r + 1, 2), r, dtype=np.float32))
    many = c.all_reduce_many([np.full(3, r + 1.0), np.ones((2, 2), np.float32)], "mean", bucket_bytes=8)
    save(sum=c.all_reduce(np.arange(3.0) + r), mean=c.all_reduce(np.full(2, float(r)), "mean"),
         bcast=c.broadcast(np.arange(3) * (r + 1), root=1), gather0=gathered[0], gather1=gathered[1],
         many0=many[0], many1=many[1], obj=np.array(c.broadcast_object({"rank": r}, root=1)["rank"]))
    c.barrier()


def hang():
    """Rank 1 stops answering (as a hung or unreachable worker); rank 0 must fail naming it."""
    from gpuflow.distribute.mpi import MPICollectives
    c = MPICollectives(timeout_seconds=2)
    c.barrier()
    if c.rank == 1:
        time.sleep(120)
    c.all_reduce(np.ones(4))


{"collectives": collectives, "hang": hang}[MODE]()
