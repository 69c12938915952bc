"""The ``cw`` command line."""

from codewalkers.cli.app import app, main

__all__ = ["app", "main"]
