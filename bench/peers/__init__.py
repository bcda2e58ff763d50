"""Peer benchmarks: ML Metadata and MLflow measured on the same machine in the same run
as Metagate, each in its own virtual environment (see run.py)."""
