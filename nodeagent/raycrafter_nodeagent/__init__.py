"""Raycrafter node agent: renders the frames of one job on a cluster compute node."""

__version__ = "0.1.0"
