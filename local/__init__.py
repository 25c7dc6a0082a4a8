"""The local stack (never deployed): the embedded PostgreSQL, every function on one port."""
