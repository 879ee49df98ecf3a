"""weightcast.analysis."""
