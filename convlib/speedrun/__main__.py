"""``python -m convlib.speedrun``: see :mod:`convlib.speedrun.cli`."""

from convlib.speedrun.cli import main

if __name__ == "__main__":
    main()
