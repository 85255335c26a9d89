"""The package version, in its own module so inner modules never import the package face."""

__version__ = "0.1.0"
