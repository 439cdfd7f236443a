"""mepd's benchmarks: freshness, cost and the meter's rate budget. Run `python bench/run.py`."""
