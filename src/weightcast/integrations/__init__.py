"""weightcast.integrations."""
