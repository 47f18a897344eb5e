"""Benchmarks of jobsched, and the references it is measured against (``bench/run.py``)."""
