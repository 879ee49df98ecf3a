"""weightcast.search."""
