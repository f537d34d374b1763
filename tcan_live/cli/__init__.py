"""The ``tcan-live`` command line: one module per command, registered on one typer app."""
