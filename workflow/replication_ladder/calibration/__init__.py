"""Calibration: simulation-based calibration and its ranks, the prior predictive check,
parameter recovery.
"""
