"""Fixtures for attacks on a real server: the launcher (``python -m ui.serve run SCRIPT``) on a
free port, raw HTTP with any Host, and a minimal Streamlit websocket client.

Servers run from the repository folder (its ``.streamlit/config.toml``), on ``data/sample``
(synthetic) unless told otherwise, with a private audit file and, when given, a private
secrets file (``--secrets.files``). Each server is stopped by its process id.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app.py"
SAMPLE = REPO / "data" / "sample"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running launcher process: its port, audit file and log."""

    port: int
    audit: Path
    log: Path
    proc: subprocess.Popen = field(repr=False)

    def request(self, path: str = "/", *, host: str | None = None, method: str = "GET",
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One raw HTTP request to 127.0.0.1 with the given ``Host`` (default ours).
        Returns (status, lower-cased headers, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host if host is not None else f"127.0.0.1:{self.port}")
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            conn.close()

    def upgrade(self, *, host: str, origin: str | None = None) -> str:
        """A raw websocket upgrade request for ``/_stcore/stream``; returns the status line."""
        lines = [
            "GET /_stcore/stream HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
            "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: streamlit",
        ]
        if origin:
            lines.append(f"Origin: {origin}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            data = b""
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.split(b"\r\n", 1)[0].decode("latin-1")

    def audit_lines(self) -> list[dict]:
        """The audit file's events (split on "\\n" only)."""
        if not self.audit.exists():
            return []
        return [json.loads(x) for x in self.audit.read_bytes().split(b"\n") if x.strip()]


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/_stcore/health", headers={"Host": f"127.0.0.1:{port}"})
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@pytest.fixture(scope="module")
def start_guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """``start_guarded(script=APP, data=SAMPLE, secrets=None, env=None)`` -> a running
    :class:`Server` through the launcher; all are stopped when the module's tests end."""
    started: list[Server] = []

    def start(script: Path = APP, *, data: Path = SAMPLE, secrets: str | None = None,
              env: dict[str, str] | None = None) -> Server:
        folder = tmp_path_factory.mktemp("guarded")
        port = free_port()
        audit = folder / "audit.jsonl"
        log = folder / "server.log"
        secrets_file = folder / "secrets.toml"
        secrets_file.write_text(secrets or "", encoding="utf-8")
        environment = {
            **os.environ, "FLIGHTDECK_DATA": str(data), "FLIGHTDECK_AUDIT_LOG": str(audit),
            "PYTHONPATH": str(REPO), **(env or {}),
        }
        if "FLIGHTDECK_SECRET" not in (env or {}):
            environment.pop("FLIGHTDECK_SECRET", None)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ui.serve", "run", str(script),
                 "--server.port", str(port), "--server.headless", "true",
                 "--secrets.files", str(secrets_file)],
                cwd=REPO, env=environment, stdout=out, stderr=subprocess.STDOUT,
            )
        server = Server(port, audit, log, proc)
        started.append(server)
        deadline = time.monotonic() + 60
        while not _healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the launcher did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        return server

    yield start
    for server in started:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()


class StreamlitClient:
    """A minimal browser stand-in on Streamlit's websocket: runs the script, collects what it
    sends (ForwardMsg protobufs), asks for deferred downloads."""

    def __init__(self, port: int, *, host: str | None = None) -> None:
        from websockets.sync.client import connect

        self.port = port
        name = host or f"127.0.0.1:{port}"
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self._connection = connect(f"ws://{name}/_stcore/stream", sock=sock,
                                   subprotocols=["streamlit"], open_timeout=30,
                                   origin=f"http://{name}", max_size=None)
        self.ws = self._connection.__enter__()
        self.messages: list = []

    def run(self, query: str = "", timeout: float = 90) -> list:
        """Run the script with ``query`` (a URL query string) until it finishes; returns the
        ForwardMsgs of this run."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ClientState_pb2 import ClientState
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg(rerun_script=ClientState(query_string=query, page_script_hash=""))
        self.ws.send(msg.SerializeToString())
        got: list = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fwd = ForwardMsg.FromString(self.ws.recv(timeout=deadline - time.monotonic()))
            got.append(fwd)
            if (fwd.WhichOneof("type") == "script_finished"
                    and fwd.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY):
                break
        else:
            raise TimeoutError("the script did not finish")
        self.messages.extend(got)
        return got

    def elements(self, kind: str) -> list:
        """Every new element of ``kind`` (e.g. ``download_button``, ``markdown``) sent so far."""
        out = []
        for fwd in self.messages:
            if fwd.WhichOneof("type") == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                if element.WhichOneof("type") == kind:
                    out.append(getattr(element, kind))
        return out

    def text(self) -> str:
        """All markdown, alert and heading text sent so far, joined."""
        parts = [m.body for m in self.elements("markdown")]
        parts += [a.body for a in self.elements("alert")]
        parts += [h.body for h in self.elements("heading")]
        return "\n".join(parts)

    def deferred_url(self, file_id: str, timeout: float = 30) -> str:
        """Ask the server to build a deferred download (what a click does); returns its URL."""
        from streamlit.proto.BackMsg_pb2 import (
            BackendOperationRequest,
            BackMsg,
            DeferredFileRequestPayload,
        )
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        session_id = next(f.new_session.initialize.session_id for f in self.messages
                          if f.WhichOneof("type") == "new_session")
        request = BackendOperationRequest(
            request_id="fetch-1", session_id=session_id,
            deferred_file=DeferredFileRequestPayload(file_id=file_id))
        self.ws.send(BackMsg(backend_operation_request=request).SerializeToString())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fwd = ForwardMsg.FromString(self.ws.recv(timeout=deadline - time.monotonic()))
            if fwd.WhichOneof("type") == "backend_operation_response":
                response = fwd.backend_operation_response
                assert not response.error_msg, response.error_msg
                return response.deferred_file.url
        raise TimeoutError("no deferred download answer")

    def close(self) -> None:
        self._connection.__exit__(None, None, None)
