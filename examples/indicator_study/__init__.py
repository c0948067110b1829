"""Calibration study of the online error indicator (``study.py``; see README.md)."""
