"""docker-compose.yml, checked by a real compose implementation (no Docker engine runs here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = shutil.which("docker-compose")


@pytest.mark.skipif(
    COMPOSE is None, reason="docker-compose is not installed (python3 dev.py test installs it)"
)
def test_compose_file_is_valid_and_wires_kafka_to_the_pipeline():
    result = subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "healthcheck" in services["kafka"]
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    pipeline = services["pipeline"]
    assert pipeline["command"][:1] == ["run"] and "kafka:19092" in pipeline["command"]
    assert pipeline["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "claimstream-output" in config["volumes"]
