"""Stage 1, load: catalog files found on disk and read into plain data with the line and column of
every key and value (no Python object built from YAML beyond plain data)."""
