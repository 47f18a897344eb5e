"""Dumb widgets of the console: each takes data through an ``update_*`` method."""
