"""Generators and alterers: one protocol, one registry, heavy imports only inside each backend."""
