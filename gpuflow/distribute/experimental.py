"""``tf.distribute.experimental``: the communication options of MultiWorkerMirroredStrategy."""
from .strategy import CommunicationImplementation, CommunicationOptions, MultiWorkerMirroredStrategy  # noqa: F401
