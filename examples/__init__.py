"""End-to-end example cases a user copies (``examples/<case>/``).

The cases with generators (``examples.cube``, ``examples.blade``) are importable
from the repository root (``python -m ...`` or pytest run from there); their
scripts also run as plain files (``python examples/cube/run.py``).
"""
