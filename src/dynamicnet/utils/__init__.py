"""Small helpers shared by every layer (filesystem safety, errors)."""
