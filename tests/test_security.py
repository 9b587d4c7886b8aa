"""Secured Kafka: client properties, mutual TLS through stunnel, refused logins, no secret shown.

The embedded broker has no TLS of its own and stores no SASL users, so TLS is
stunnel in front of it (a test CA made here, client certificates required), with
the broker advertising stunnel's port; and the SASL test is a refusal, by a
broker started with ``--authentication``. A successful SASL login needs a real
Kafka cluster (``docker compose --profile secure up``): here the settings are
checked to reach kafka-python.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka import KafkaConsumer, TopicPartition

from pipelines import kafka
from pipelines.broker import EmbeddedBroker, free_port
from pipelines.errors import OptionError, RegistryError
from pipelines.formats import confluent_decode
from pipelines.kafka.config import KafkaConfig, environment_name, read_properties
from pipelines.records import ARTICLE
from pipelines.sinks.registry import RegistryConfig, schema_id
from tests.conftest import ARTICLES, read_avro_folder

CLAIMSTREAM = [sys.executable, "-m", "pipelines.cli"]
#: Secrets the tests hand over; none may ever appear in any output.
KEY_PASSWORD = "k3y-pa55-" + os.urandom(4).hex()
SASL_PASSWORD = "sa5l-pa55-" + os.urandom(4).hex()
ARTICLE_FILES = sorted(ARTICLES.glob("*.txt"))


# --- A test CA, and stunnel in front of the embedded broker ------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer: str, issuer_key, ca: bool, hosts: tuple[str, ...] = ()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if hosts:
        names = [x509.IPAddress(ipaddress.ip_address(h)) for h in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert, key=None, password: str | None = None) -> None:
    pem = cert.public_bytes(serialization.Encoding.PEM)
    path.write_bytes(pem)
    if key is not None:
        encryption = (
            serialization.BestAvailableEncryption(password.encode())
            if password
            else serialization.NoEncryption()
        )
        key_path = path.with_name(path.stem + "-key.pem")
        key_path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """ca.pem, server.pem (for 127.0.0.1 only), client.pem with a password-protected key, other-ca.pem."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key, other_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
    _write(
        folder / "ca.pem", _certificate("claimstream test CA", ca_key, "claimstream test CA", ca_key, True)
    )
    _write(folder / "other-ca.pem", _certificate("untrusted CA", other_key, "untrusted CA", other_key, True))
    server = _certificate("broker", server_key, "claimstream test CA", ca_key, False, ("127.0.0.1",))
    _write(folder / "server.pem", server, server_key)
    client = _certificate("pipeline", client_key, "claimstream test CA", ca_key, False)
    _write(folder / "client.pem", client, client_key, KEY_PASSWORD)
    return folder


def _stunnel_binary() -> str:
    binary = shutil.which("stunnel")
    if binary is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {"capture_output": True, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
        subprocess.run(["apt-get", "install", "-y", "stunnel4"], timeout=300, **quiet)
        binary = shutil.which("stunnel")
    if binary is None:
        pytest.skip("stunnel (Debian package stunnel4) is not installed")
    return binary


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"stunnel did not listen on {port}")


@pytest.fixture(scope="module")
def tls_broker(pki):
    """The TLS address of an embedded broker behind stunnel, which wants client certificates."""
    binary = _stunnel_binary()
    tls_port = free_port()
    with EmbeddedBroker(advertised_port=tls_port) as broker:
        config = pki / "stunnel.conf"
        config.write_text(
            f"foreground = yes\npid =\noutput = {pki / 'stunnel.log'}\n"
            f"[kafka]\naccept = 127.0.0.1:{tls_port}\nconnect = 127.0.0.1:{broker.port}\n"
            f"cert = {pki / 'server.pem'}\nkey = {pki / 'server-key.pem'}\n"
            f"CAfile = {pki / 'ca.pem'}\nverifyChain = yes\nrequireCert = yes\n"
        )
        stunnel = subprocess.Popen(
            [binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for_port(tls_port, stunnel)
            yield f"127.0.0.1:{tls_port}"
        finally:
            stunnel.terminate()
            stunnel.wait(timeout=10)


def tls_properties(pki: Path) -> dict[str, str]:
    return {
        "security.protocol": "SSL",
        "ssl.ca.location": str(pki / "ca.pem"),
        "ssl.certificate.location": str(pki / "client.pem"),
        "ssl.key.location": str(pki / "client-key.pem"),
        "ssl.key.password": KEY_PASSWORD,
        "ssl.endpoint.identification.algorithm": "https",
    }


def flags(properties: dict[str, str]) -> list[str]:
    return [arg for key, value in properties.items() for arg in ("--kafka-config", f"{key}={value}")]


def claimstream(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLAIMSTREAM, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert KEY_PASSWORD not in text and SASL_PASSWORD not in text


def consume_all(config: KafkaConfig, topic: str, count: int, timeout: float = 30) -> list:
    consumer = KafkaConsumer(**kafka.client.consumer_settings(config), enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    try:
        consumer.assign([tp])
        found: list = []
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            found.extend(consumer.poll(timeout_ms=500).get(tp, ()))
        return found
    finally:
        consumer.close()


# --- Processing over mutual TLS -------------------------------------------------------------


def test_produce_and_run_over_mutual_tls(tls_broker, pki, login_registry, topic_name, tmp_path):
    produced = claimstream(
        "produce", "--bootstrap-servers", tls_broker, "--topic", topic_name,
        *flags(tls_properties(pki)), *map(str, ARTICLE_FILES),
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr
    assert f"published {len(ARTICLE_FILES)} articles" in produced.stdout

    properties = pki / f"{topic_name}.properties"
    lines = [f"{key} = {value}" for key, value in tls_properties(pki).items()]
    properties.write_text("# mutual TLS through stunnel\n\n! Java comments too\n" + "\n".join(lines) + "\n")
    out_topic = f"{topic_name}-enriched"
    ran = claimstream(
        "run", "--bootstrap-servers", tls_broker, "--topic", topic_name,
        "--kafka-config-file", str(properties), "--output", str(tmp_path), "--output-topic", out_topic,
        "--until-idle", "3", "--nlp-processes", "1", "--schema-registry-url", login_registry,
        "--schema-registry-config", f"basic.auth.user.info={_LoginRegistry.login}",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    written = read_avro_folder(tmp_path / "articles")
    assert len(written) == len(ARTICLE_FILES)
    published = consume_all(KafkaConfig.of(tls_broker, tls_properties(pki)), out_topic, len(written))
    assert sorted(r.key.decode() for r in published) == sorted(r["article_id"] for r in written)
    # The registry let the login in, and its id frames every record.
    assert {confluent_decode(ARTICLE, r.value)[0] for r in published} == {_LoginRegistry.schema_id}
    assert_no_secret(produced.stdout, produced.stderr, ran.stdout, ran.stderr)
    assert_no_secret(*(f.read_bytes().decode("latin-1") for f in tmp_path.rglob("*.avro")))


def test_run_with_only_environment_variables(tls_broker, pki, topic_name, tmp_path):
    config = KafkaConfig.of(tls_broker, tls_properties(pki))
    kafka.ensure_topic(config, topic_name)
    kafka.publish(config, topic_name, ((f.name.encode(), f.read_bytes()) for f in ARTICLE_FILES))
    port = free_port()
    env = {environment_name(key): value for key, value in tls_properties(pki).items()}
    env.update(CLAIMSTREAM_BOOTSTRAP_SERVERS=tls_broker, CLAIMSTREAM_TOPIC=topic_name,
               CLAIMSTREAM_OUTPUT=str(tmp_path), CLAIMSTREAM_GROUP_ID=f"{topic_name}-env")  # fmt: skip
    command = [*CLAIMSTREAM, "run", "--until-idle", "3", "--nlp-processes", "1", "--metrics-port", str(port)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env}
    )
    metrics = ""
    while process.poll() is None and not metrics:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                metrics = response.read().decode()
        except OSError:
            time.sleep(0.3)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-3000:]
    assert len(read_avro_folder(tmp_path / "articles")) == len(ARTICLE_FILES)
    assert "claimstream" in metrics
    assert_no_secret(out, err, metrics)


# --- Clear errors, bounded in time ----------------------------------------------------------


@pytest.fixture(scope="module")
def authenticating_broker():
    """A broker that requires SASL: it stores no users, so it refuses every login."""
    with EmbeddedBroker(authentication=True) as broker:
        yield broker.bootstrap_servers


def _cases(pki: Path, tls: str, plain: str, sasl: str) -> dict[str, tuple[str, dict, str]]:
    """Name -> (address, properties, what the error line says)."""
    trusted = tls_properties(pki)
    return {
        "untrusted-ca": (tls, {**trusted, "ssl.ca.location": str(pki / "other-ca.pem")},
                         "certificate verify failed"),
        "hostname-mismatch": (tls.replace("127.0.0.1", "localhost"), trusted,
                              "certificate verify failed: Hostname mismatch"),
        "plaintext-to-tls": (tls, {}, f"{tls} did not answer a Kafka request: is it a TLS listener?"),
        "tls-to-plaintext": (plain, trusted, f"{plain} does not speak TLS"),
        "no-client-certificate": (tls, {"security.protocol": "SSL", "ssl.ca.location": str(pki / "ca.pem")},
                                  "requires a client certificate (ssl.certificate.location)"),
        "scram-refused": (sasl, {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
                                 "sasl.username": "alice", "sasl.password": SASL_PASSWORD},
                          f"authentication failed for user alice with SCRAM-SHA-512 at {sasl}"),
        "unknown-key": (tls, {**trusted, "sasl.pasword": SASL_PASSWORD},
                        "unknown Kafka property 'sasl.pasword'; did you mean sasl.password?"),
        "missing-ca-file": (tls, {**trusted, "ssl.ca.location": str(pki / "missing.pem")},
                            f"ssl.ca.location: no such file {pki / 'missing.pem'}"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case, command",
    [("untrusted-ca", "run"), ("hostname-mismatch", "produce"), ("plaintext-to-tls", "produce"),
     ("tls-to-plaintext", "produce"), ("no-client-certificate", "produce"),
     ("scram-refused", "run"), ("scram-refused", "produce"),
     ("unknown-key", "produce"), ("missing-ca-file", "produce")],
)  # fmt: skip
def test_each_failure_is_one_line_in_time(
    case, command, tls_broker, broker, authenticating_broker, pki, tmp_path
):
    address, properties, said = _cases(pki, tls_broker, broker.bootstrap_servers, authenticating_broker)[case]
    args = ["--output", str(tmp_path)] if command == "run" else [str(ARTICLE_FILES[0])]
    started = time.monotonic()
    result = claimstream(command, "--bootstrap-servers", address, "--topic", "t", *flags(properties), *args)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert elapsed < 60
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert_no_secret(result.stdout, result.stderr)


# --- The properties, mapped in one place ----------------------------------------------------


def test_sasl_properties_reach_every_client_as_kafka_python_settings(tmp_path):
    config = KafkaConfig.of("b1:9096,b2:9096", {
        "security.protocol": "sasl_ssl", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "alice",
        "sasl.password": SASL_PASSWORD, "ssl.endpoint.identification.algorithm": "",
        "session.timeout.ms": "45000", "client.id": "newsroom",
    })  # fmt: skip
    from kafka import KafkaAdminClient, KafkaProducer

    for client in (KafkaConsumer, KafkaProducer, KafkaAdminClient):
        settings = config.client_settings(client.DEFAULT_CONFIG)
        assert settings["security_protocol"] == "SASL_SSL" and settings["sasl_mechanism"] == "SCRAM-SHA-512"
        assert settings["sasl_plain_username"] == "alice" and settings["sasl_plain_password"] == SASL_PASSWORD
        assert settings["ssl_check_hostname"] is False and settings["client_id"] == "newsroom"
        assert settings["bootstrap_servers"] == ["b1:9096", "b2:9096"]
    assert kafka.client.consumer_settings(config)["session_timeout_ms"] == 45000
    assert "session_timeout_ms" not in config.client_settings(KafkaProducer.DEFAULT_CONFIG)
    assert SASL_PASSWORD not in repr(config) and SASL_PASSWORD not in str(config)


def test_flags_win_over_the_file_which_wins_over_the_environment(tmp_path):
    file = tmp_path / "client.properties"
    file.write_text("client.id = from-file\nsasl.username: file-user\n# sasl.mechanism=PLAIN\n")
    environ = {"CLAIMSTREAM_KAFKA_CLIENT_ID": "from-env", "CLAIMSTREAM_KAFKA_SASL_USERNAME": "env-user",
               "CLAIMSTREAM_KAFKA_REQUEST_TIMEOUT_MS": "9000"}  # fmt: skip
    config = KafkaConfig.resolve("b:9092", ["client.id=from-flag"], str(file), environ)
    settings = config.client_settings()
    assert settings["client_id"] == "from-flag" and settings["sasl_plain_username"] == "file-user"
    assert settings["request_timeout_ms"] == 9000 and "sasl_mechanism" not in settings


def test_a_bad_properties_line_or_variable_is_named(tmp_path):
    file = tmp_path / "bad.properties"
    file.write_text("client.id=x\n\nsecurity.protocol SSL\n")
    with pytest.raises(OptionError, match=f"{file} line 3: expected key=value"):
        read_properties(str(file))
    file.write_text("sasl.mechanism=OAUTHBEARER\n")
    with pytest.raises(OptionError, match="line 1: sasl.mechanism=OAUTHBEARER is not supported"):
        read_properties(str(file))
    with pytest.raises(OptionError, match="CLAIMSTREAM_KAFKA_SASL_PASWORD: .*did you mean sasl.password"):
        KafkaConfig.resolve("b:9092", environ={"CLAIMSTREAM_KAFKA_SASL_PASWORD": SASL_PASSWORD})
    with pytest.raises(OptionError, match="--kafka-config takes KEY=VALUE: its value number 2") as error:
        KafkaConfig.resolve("b:9092", ["client.id=x", f"sasl.password{SASL_PASSWORD}"], environ={})
    assert SASL_PASSWORD not in str(error.value)


# --- The schema registry behind a login -------------------------------------------------------


class _LoginRegistry(http.server.BaseHTTPRequestHandler):
    """A registry endpoint that, like a secured one, answers 401 without the right login."""

    login = "sr-user:" + SASL_PASSWORD
    schema_id = 4242
    seen: list[str] = []

    def do_POST(self):  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        given = self.headers.get("Authorization", "")
        self.seen.append(given)
        authorized = given == "Basic " + base64.b64encode(self.login.encode()).decode()
        answer = json.dumps(
            {"id": self.schema_id} if authorized else {"error_code": 40101, "message": "Unauthorized"}
        )
        self.send_response(200 if authorized else 401)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def login_registry():
    """The URL of a registry endpoint that wants a login."""
    _LoginRegistry.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LoginRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_registry_login_is_sent_and_a_refusal_shows_no_secret(login_registry):
    login = f"basic.auth.user.info={_LoginRegistry.login}"
    registry = RegistryConfig.resolve(login_registry, [login], environ={})
    assert schema_id(ARTICLE, "news", registry) == _LoginRegistry.schema_id
    variable = {"CLAIMSTREAM_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO": _LoginRegistry.login}
    from_environment = RegistryConfig.resolve(login_registry, environ=variable)
    assert schema_id(ARTICLE, "news", from_environment) == _LoginRegistry.schema_id
    wrong = RegistryConfig.resolve(login_registry, [f"{login}-wrong"], environ={})
    with pytest.raises(RegistryError, match="401") as error:
        schema_id(ARTICLE, "news", wrong)
    assert len(_LoginRegistry.seen) == 3 and all(s.startswith("Basic ") for s in _LoginRegistry.seen)
    assert_no_secret(str(error.value), repr(registry), repr(wrong))
