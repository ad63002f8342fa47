"""``python -m lkbench.cli`` (and ``torchrun ... -m lkbench.cli``): the ``lkbench`` command."""
import sys

from . import main

main(sys.argv[1:])
