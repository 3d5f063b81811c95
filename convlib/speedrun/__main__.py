"""``python -m convlib.speedrun``: see :mod:`convlib.speedrun.cli`."""

import sys

from convlib.data import DataUnavailableError
from convlib.speedrun.cli import main

if __name__ == "__main__":
    try:
        main()
    except DataUnavailableError as error:  # the message says how to get the data: no traceback around it
        sys.exit(f"python -m convlib.speedrun: error: {error}")
