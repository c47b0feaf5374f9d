"""``python -m gpuflow ...``: the same command line as the ``gpuflow`` script (:func:`gpuflow.cli.main`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
