"""raybee: a Zeebe-style workflow engine on Ray."""

__version__ = "0.1.0"
