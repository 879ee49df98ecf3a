"""weightcast.policy."""
