"""Shared core: params, io, errors, the data contract, gates and lineage."""
