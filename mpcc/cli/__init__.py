"""The ``mpcc`` command line: typer commands, their work, and readable views of their results."""
