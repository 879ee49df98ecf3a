"""weightcast.corpus."""
