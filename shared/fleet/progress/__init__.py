"""Progress events: counted once, on their own business day."""
