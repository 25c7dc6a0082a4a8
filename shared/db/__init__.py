"""The database: engine, pool, pg8000 speed-ups, error translation, transactions, migrations."""
