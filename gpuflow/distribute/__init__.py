"""``tf.distribute``: data-parallel training over one collectives interface.

``MirroredStrategy`` (one process, one replica) and ``MultiWorkerMirroredStrategy`` (one process per
worker, started by ``mpirun``/``srun``; gradients all-reduced over MPI for host buffers or NCCL for GPU
buffers). See :mod:`gpuflow.distribute.strategy` for the semantics and
:mod:`gpuflow.distribute.collectives` for the transport. ``pip install 'gpuflow[distributed]'`` installs
mpi4py and an MPI library.
"""
from .strategy import (  # noqa: F401
    ReduceOp, CommunicationImplementation, CommunicationOptions, Strategy, MirroredStrategy,
    MultiWorkerMirroredStrategy, InputContext, ReplicaContext, get_strategy, has_strategy, get_replica_context,
    in_cross_replica_context,
)
from .collectives import Collectives, LocalCollectives, CollectiveTimeoutError  # noqa: F401
from . import experimental  # noqa: F401
