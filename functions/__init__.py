"""One module per deployed HTTP function; each parses, calls one operation and answers JSON."""
