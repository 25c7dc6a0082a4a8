"""A driver's closed days."""
