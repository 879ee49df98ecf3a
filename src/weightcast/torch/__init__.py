"""weightcast.torch."""
