"""weightcast.predict."""
