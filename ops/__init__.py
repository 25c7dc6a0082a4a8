"""`fleet`, the operations command line (never deployed)."""
