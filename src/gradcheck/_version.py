"""The package version, in one place (the HTML footer and ``gradcheck.__version__`` read it)."""

__version__ = "0.1.0"
