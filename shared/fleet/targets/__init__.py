"""Targets: setting them in batches, reading drivers, the day's summary, the CSV export."""
