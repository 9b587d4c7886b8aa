"""Trained model files shipped with the package (see pipelines/claims/train.py)."""
