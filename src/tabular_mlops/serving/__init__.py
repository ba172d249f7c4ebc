"""The prediction service: the champion behind a small ASGI app."""
