"""Continuous delivery: the reviewed model's bytes, packaged, released to an environment through
registry aliases, its production history, and rollback."""
