"""Trained model files shipped with the package (see pipelines/train.py)."""
