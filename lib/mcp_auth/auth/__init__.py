"""Authentication providers."""
