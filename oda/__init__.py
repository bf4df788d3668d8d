"""The ``oda`` command line and shared plumbing (configuration, output, errors)."""

__version__ = "0.1.0"
