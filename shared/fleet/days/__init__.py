"""Closing a business day (the nightly snapshot) and pruning what outlived retention."""
