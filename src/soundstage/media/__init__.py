"""Reading and writing media safely: size limits, format checks, atomic writes."""
