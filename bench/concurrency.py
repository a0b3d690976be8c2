"""Step 8: many sessions opening the flight deck at once against one server (``python -m
ui.serve run``, as ``make run``).

The client speaks Streamlit's own websocket protocol, as the browser does:
connect to ``ws://127.0.0.1:PORT/_stcore/stream`` with subprotocol ``streamlit``, send a
``BackMsg`` whose ``rerun_script`` carries a ``ClientState`` (empty query string and page
hash: the default page, the flight deck), then read ``ForwardMsg``s until ``script_finished``
is ``FINISHED_SUCCESSFULLY``. The time from opening the socket to that message is the time
until the server has sent the whole page (a browser then paints it: a few ms more).

A session is *dropped* when its socket closes or errors before the script finishes, or it
does not finish within the timeout. Exception elements sent in deltas are counted apart.
The server's RSS is sampled every 100 ms while sessions are open. Traffic stays on 127.0.0.1;
the server is always stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rerun_message(query_string: str = "") -> bytes:
    """The serialized BackMsg a browser sends to run the page (default page when blank)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.rerun_script.query_string = query_string
    msg.rerun_script.page_script_hash = ""
    msg.rerun_script.widget_states.SetInParent()
    return msg.SerializeToString()


@dataclass
class SessionResult:
    """One session's outcome."""

    seconds: float | None = None  # open -> script finished successfully; None when dropped
    dropped_reason: str | None = None
    exceptions: int = 0
    messages: int = 0
    bytes: int = 0


async def open_session(port: int, timeout: float, query_string: str = "") -> tuple[
        SessionResult, Any]:
    """Open one session and wait until its first script run finishes; returns the socket open.

    The caller closes the returned socket (None when the connection failed), so that all
    sessions of a level are alive at the same time.
    """
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.asyncio.client import connect

    res = SessionResult()
    url = f"ws://{HOST}:{port}/_stcore/stream"
    t0 = time.perf_counter()
    ws = None
    try:
        async with asyncio.timeout(timeout):
            ws = await connect(url, subprotocols=["streamlit"], max_size=None,
                               open_timeout=timeout, ping_interval=None, close_timeout=2)
            await ws.send(rerun_message(query_string))
            while True:
                data = await ws.recv()
                if isinstance(data, str):
                    continue
                res.messages += 1
                res.bytes += len(data)
                fm = ForwardMsg()
                fm.ParseFromString(data)
                kind = fm.WhichOneof("type")
                if kind == "delta":
                    d = fm.delta
                    if d.WhichOneof("type") == "new_element" and \
                            d.new_element.WhichOneof("type") == "exception":
                        res.exceptions += 1
                elif kind == "script_finished":
                    if fm.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                        res.seconds = time.perf_counter() - t0
                        return res, ws
                    if fm.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                        res.dropped_reason = "compile error"
                        return res, ws
                    # finished early for a rerun: keep waiting for the rerun to finish
    except TimeoutError:
        res.dropped_reason = f"no script_finished within {timeout:g} s"
    except Exception as exc:  # connection refused, closed, protocol error
        res.dropped_reason = f"{type(exc).__name__}: {exc}"[:120]
    return res, ws


async def close_all(sockets: Sequence[Any], timeout: float = 10.0) -> None:
    """Close the sockets concurrently, giving up (aborting) after ``timeout`` seconds."""
    async def close(ws: Any) -> None:
        try:
            await ws.close()
        except Exception:
            pass

    live = [ws for ws in sockets if ws is not None]
    if not live:
        return
    done, pending = await asyncio.wait([asyncio.create_task(close(ws)) for ws in live],
                                       timeout=timeout)
    for task in pending:
        task.cancel()
    for ws in live:
        transport = getattr(ws, "transport", None)
        if transport is not None:
            transport.abort()


async def _sample_rss(proc: psutil.Process, stop: asyncio.Event, peak: list[int]) -> None:
    """Record the process's peak RSS every 100 ms until ``stop`` is set."""
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], proc.memory_info().rss)
        except psutil.Error:
            return
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except TimeoutError:
            pass


async def run_level(port: int, proc: psutil.Process, n: int, timeout: float) -> dict[str, Any]:
    """``n`` sessions opened at once; all stay open until every one has finished."""
    before = proc.memory_info().rss
    cpu0 = proc.cpu_times()
    peak = [before]
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(proc, stop, peak))
    t0 = time.perf_counter()
    pairs = await asyncio.gather(*(open_session(port, timeout) for _ in range(n)))
    wall = time.perf_counter() - t0
    cpu1 = proc.cpu_times()
    server_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    peak[0] = max(peak[0], proc.memory_info().rss)
    await close_all([ws for _, ws in pairs])
    await asyncio.sleep(2.0)  # let the server drop the sessions
    stop.set()
    await sampler
    results = [r for r, _ in pairs]
    reasons = sorted({r.dropped_reason for r in results if r.dropped_reason})
    return {
        "times": [r.seconds for r in results if r.seconds is not None],
        "dropped": sum(r.seconds is None for r in results),
        "dropped_reasons": reasons[:3],
        "exceptions": sum(r.exceptions for r in results),
        "messages_per_session": max((r.messages for r in results), default=0),
        "bytes_per_session": max((r.bytes for r in results), default=0),
        "wall": wall,
        "server_cpu": server_cpu,
        "server_cpu_per_session": server_cpu / n,
        "rss_before": before,
        "rss_peak": peak[0],
        "rss_after": proc.memory_info().rss,
    }


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float) -> None:
    """Wait for ``/_stcore/health`` to answer "ok"; raise when the server dies or times out."""
    deadline = time.monotonic() + timeout
    url = f"http://{HOST}:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit not healthy within {timeout:g} s")


def start_server(data: Path, port: int, log_path: Path,
                 app: Path = REPO / "app.py", env_extra: dict[str, str] | None = None
                 ) -> subprocess.Popen:
    """The server as ``make run`` starts it (``python -m ui.serve run app.py``: Streamlit
    behind the launcher's guard, the first page's modules imported and the default flight
    deck prepared before it answers) on 127.0.0.1:port, headless, no file watcher or
    telemetry; ``env_extra`` adds environment variables (e.g. ``FLIGHTDECK_WARM=0``)."""
    cmd = [sys.executable, "-m", "ui.serve", "run", str(app),
           "--server.port", str(port), "--server.address", HOST,
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    env = {**os.environ, "FLIGHTDECK_DATA": str(data), **(env_extra or {})}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process by the OS
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate the server (then kill it if it lingers)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def run(data: Path, levels: Sequence[int] = (10, 25, 50), timeout: float = 60.0,
        log_path: Path | None = None, app: Path = REPO / "app.py",
        log: Any = print) -> dict[str, Any]:
    """Start a server on ``data``, warm it with one session, then open each level at once."""
    port = free_port()
    log_path = log_path or REPO / "bench" / "data" / "streamlit-server.log"
    proc = start_server(data, port, log_path, app)
    out: dict[str, Any] = {"port": port, "levels": {}, "data": str(data)}
    try:
        wait_healthy(port, proc, 60.0)
        ps = psutil.Process(proc.pid)
        out["rss_idle"] = ps.memory_info().rss

        async def scenario() -> None:
            log("  first session (loads the export into the server's cache)...")
            first, ws = await open_session(port, max(timeout, 120.0))
            await close_all([ws])
            log(f"    {first.seconds if first.seconds is not None else first.dropped_reason}")
            out["first_session"] = first.seconds
            if first.seconds is None:
                out["error"] = f"first session dropped: {first.dropped_reason}"
                return
            if first.exceptions:
                out["note"] = f"{first.exceptions} exception element(s) on the page"
            await asyncio.sleep(1.0)
            out["rss_baseline"] = ps.memory_info().rss
            for n in levels:
                log(f"  {n} sessions at once...")
                lv = await run_level(port, ps, n, timeout)
                out["levels"][str(n)] = lv
                log(f"    finished {len(lv['times'])}, dropped {lv['dropped']}, "
                    f"wall {lv['wall']:.1f} s {lv['dropped_reasons'] or ''}")

        asyncio.run(asyncio.wait_for(scenario(), 120 + len(levels) * (timeout + 60)))
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        stop_server(proc)
    out["server_log"] = str(log_path)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.concurrency [DATA_DIR] [N ...]``: print the result as JSON."""
    import json

    args = list(sys.argv[1:] if argv is None else argv)
    data = Path(args.pop(0)) if args else REPO / "data" / "sample"
    levels = [int(a) for a in args] or [10, 25, 50]
    print(json.dumps(run(data.resolve(), levels), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
