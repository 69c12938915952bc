"""``python -m codewalkers`` is ``cw``."""

from codewalkers.cli import main

main()
