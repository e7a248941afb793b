"""Use cases and the ports they need; adapters live in infrastructure/."""
