"""weightcast.features."""
