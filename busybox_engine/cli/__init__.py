"""The `docker` client."""
