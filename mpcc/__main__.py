"""``python -m mpcc``: the same as the ``mpcc`` command."""

from mpcc.cli.main import main

main()
