"""Continuous-training operations outside the DVC pipeline: ingest, drift, decide, simulate,
promote."""
