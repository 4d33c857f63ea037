"""chaton: the toolbox of a CHATONS hosting association."""

__version__ = "0.1.0"
