"""`make bench`: every figure of the service beside its floor, measured in the same run.

One run starts its own embedded PostgreSQL (fsync on) in a temporary directory, migrates a
database, starts the real local server (`fleet serve`) on it, and measures each case against the
same work done straight through pg8000 on the same database. See bench/README.md.
"""
