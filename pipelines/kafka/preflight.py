"""One bounded look at the broker before anything else talks to it: TLS, Kafka, SASL.

kafka-python retries a refused login or a failed TLS handshake until its bootstrap
time-out and then reports only that it could not bootstrap, and a plaintext client
talking to a TLS listener can wait forever for an answer that never comes. So the
command checks the first address that accepts a connection itself, each step with
a socket time-out, and names the cause in one line:

- TLS: the broker's certificate is verified (CA file, host name); a listener that
  does not answer TLS, and a broker that wants a client certificate, are said so.
- Kafka: an ApiVersions request must be answered (a TLS listener never answers it).
- SASL: the handshake and the login, with kafka-python's own mechanisms.

Nothing here shows a password: errors name the user, the mechanism and the address.
"""

from __future__ import annotations

import socket
import ssl

from kafka.net.sasl import get_sasl_mechanism
from kafka.protocol.metadata import ApiVersionsRequest
from kafka.protocol.parser import KafkaProtocol
from kafka.protocol.sasl import SaslAuthenticateRequest, SaslHandshakeRequest

from pipelines.errors import KafkaError, OptionError
from pipelines.kafka.config import KafkaConfig

#: Each connect, handshake and answer waits no longer than this.
STEP_TIMEOUT = 10.0


def check_connection(config: KafkaConfig, timeout: float = STEP_TIMEOUT) -> None:
    """Raise a one-line :class:`KafkaError` unless a bootstrap address speaks Kafka as configured."""
    settings = config.client_settings()
    context = tls_context(settings) if settings.get("security_protocol", "").endswith("SSL") else None
    for address in config.servers:
        host, _, port = address.rpartition(":")
        try:
            sock = socket.create_connection((host or "localhost", int(port)), timeout=timeout)
        except (OSError, ValueError):
            continue  # the next address; if none answers, kafka-python's error says so
        certified = bool(settings.get("ssl_certfile"))
        try:
            if context is not None:
                sock = _handshake(context, sock, host, address, certified)  # takes the socket over
            _ask_versions(sock, address, tls=context is not None, certified=certified)
            if settings.get("security_protocol", "").startswith("SASL_"):
                _authenticate(sock, address, settings)
        finally:
            sock.close()
        return


def tls_context(settings: dict) -> ssl.SSLContext:
    """The TLS context kafka-python builds from these settings, with file errors named."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = settings.get("ssl_check_hostname", True)
    try:
        if settings.get("ssl_cafile"):
            context.load_verify_locations(settings["ssl_cafile"])
        else:
            context.load_default_certs()
    except ssl.SSLError:
        raise OptionError(f"ssl.ca.location: {settings['ssl_cafile']} holds no PEM certificate") from None
    if settings.get("ssl_certfile"):
        try:
            context.load_cert_chain(
                settings["ssl_certfile"], settings.get("ssl_keyfile"), settings.get("ssl_password")
            )
        except ssl.SSLError:
            raise OptionError(
                f"ssl.certificate.location/ssl.key.location: cannot load the client certificate "
                f"{settings['ssl_certfile']} and its key (wrong ssl.key.password?)"
            ) from None
    return context


def _handshake(
    context: ssl.SSLContext, sock: socket.socket, host: str, address: str, certified: bool
) -> ssl.SSLSocket:
    try:
        return context.wrap_socket(sock, server_hostname=host or "localhost")
    except ssl.SSLCertVerificationError as e:
        raise KafkaError(
            f"TLS to {address}: certificate verify failed: {e.verify_message} "
            "(ssl.ca.location, ssl.endpoint.identification.algorithm)",
            setting="bootstrap_servers",
        ) from None
    except ssl.SSLError as e:
        raise _refused_tls(e, address, certified) from None
    except (OSError, TimeoutError):
        raise KafkaError(
            f"{address} does not speak TLS: is it a PLAINTEXT listener? set security.protocol=PLAINTEXT",
            setting="bootstrap_servers",
        ) from None


def _refused_tls(error: ssl.SSLError, address: str, certified: bool) -> KafkaError:
    reason = error.reason or ""
    # A TLS terminator that wants a certificate may also just hang up (stunnel does).
    hung_up = isinstance(error, ssl.SSLEOFError) or "EOF" in reason
    if "CERTIFICATE_REQUIRED" in reason or "HANDSHAKE_FAILURE" in reason or (hung_up and not certified):
        message = f"the broker at {address} requires a client certificate (ssl.certificate.location)"
    elif "CERTIFICATE" in reason or "UNKNOWN_CA" in reason or hung_up:
        message = f"the broker at {address} refused the client certificate (ssl.certificate.location)"
    elif "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER" in reason or "PACKET_LENGTH" in reason:
        message = f"{address} does not speak TLS: is it a PLAINTEXT listener? set security.protocol=PLAINTEXT"
    else:
        message = f"TLS to {address} failed: {reason or error}"
    return KafkaError(message, setting="bootstrap_servers")


def _exchange(sock: socket.socket, protocol: KafkaProtocol, request):
    """Send one request, return its response; None when the peer closes first."""
    protocol.send_request(request)
    sock.sendall(protocol.send_bytes())
    while True:
        data = sock.recv(65536)
        if not data:
            return None
        for _, response in protocol.receive_bytes(data):
            return response


def _ask_versions(sock: socket.socket, address: str, tls: bool, certified: bool) -> None:
    try:
        answered = _exchange(sock, KafkaProtocol(client_id="claimstream"), ApiVersionsRequest(version=0))
    except ssl.SSLError as e:  # TLS 1.3: the server's verdict on our certificate comes now
        raise _refused_tls(e, address, certified) from None
    except Exception:  # noqa: BLE001 - a time-out, a reset or bytes that are no Kafka answer alike
        answered = None
    if answered is None and tls:
        raise KafkaError(f"{address} answered TLS but not a Kafka request", setting="bootstrap_servers")
    if answered is None:
        raise KafkaError(
            f"{address} did not answer a Kafka request: is it a TLS listener? set security.protocol=SSL",
            setting="bootstrap_servers",
        )


def _authenticate(sock: socket.socket, address: str, settings: dict) -> None:
    # KafkaConfig made sure both are there.
    mechanism_name, user = settings["sasl_mechanism"], settings["sasl_plain_username"]
    protocol = KafkaProtocol(client_id="claimstream")
    failed = f"authentication failed for user {user} with {mechanism_name} at {address}"
    try:
        offered = _exchange(sock, protocol, SaslHandshakeRequest(mechanism=mechanism_name, version=1))
        if offered is None:
            raise KafkaError(f"{failed}: the broker closed the connection")
        if mechanism_name not in offered.mechanisms:
            raise KafkaError(f"{failed}: the broker offers {', '.join(offered.mechanisms) or 'no mechanism'}")
        mechanism = get_sasl_mechanism(mechanism_name)(host=address.rpartition(":")[0], **settings)
        while not mechanism.is_done():
            token = SaslAuthenticateRequest(auth_bytes=mechanism.auth_bytes(), version=0)
            answer = _exchange(sock, protocol, token)
            if answer is None:
                raise KafkaError(f"{failed}: the broker closed the connection")
            if answer.error_code:
                raise KafkaError(f"{failed}: {answer.error_message or 'refused'}")
            try:
                mechanism.receive(answer.auth_bytes)
            except Exception:  # noqa: BLE001 - the mechanism cannot read a refusal (SCRAM's e=...)
                raise KafkaError(f"{failed}: {_refusal(answer.auth_bytes)}") from None
        if not mechanism.is_authenticated():
            raise KafkaError(f"{failed}: the broker's answer did not prove it knows the user")
    except (OSError, TimeoutError) as e:
        raise KafkaError(f"{failed}: {type(e).__name__}") from None


def _refusal(auth_bytes: bytes) -> str:
    """SCRAM's server-final message carries the reason as ``e=...``.

    >>> _refusal(b"e=unknown-user")
    'unknown-user'
    """
    fields = dict(f.split("=", 1) for f in auth_bytes.decode("utf-8", "replace").split(",") if "=" in f)
    return fields.get("e", "the broker refused the login")
