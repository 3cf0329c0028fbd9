"""``python -m closeloop`` is the ``closeloop`` command."""

from closeloop.cli import main

main()
