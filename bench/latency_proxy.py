"""A TCP proxy that adds D ms of one-way delay in each direction (asyncio, stdlib only).

It makes a loopback mail server look like one across the internet: every chunk read from one
side is written to the other side D ms after it arrived, in arrival order (a later chunk never
overtakes an earlier one, and chunks in flight do not wait for each other: this is latency, not
a bandwidth cap). An end of stream (half-close) is passed on after the same delay, and a new
connection pays TCP's handshake round trip too (see LatencyProxy). It forwards bytes only, so
TLS (implicit or STARTTLS) passes through untouched.

As a library (the proxy runs its own event loop in a daemon thread):

    with LatencyProxy("127.0.0.1", dovecot.port, delay_ms=40) as proxy:
        ...connect to 127.0.0.1:proxy.port...
        proxy.connections  # accepted so far

From the command line (Ctrl-C stops it):

    python bench/latency_proxy.py 127.0.0.1:143 --port 10143 --delay-ms 40
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading

CHUNK = 64 * 1024


class LatencyProxy:
    """Forward listen_host:port -> target_host:target_port, delaying each direction by
    delay_ms. `delay_ms` may be changed while it runs (e.g. 0 for a warm-up, then 40);
    a change applies to chunks read after it.

    With `handshake` (the default) a new connection also pays for TCP's handshake, as it does
    on a real network: the client's connect() to the proxy returns at once, so the proxy
    opens the target 3 x delay later instead (SYN, SYN-ACK, ACK). A server that speaks first
    (IMAP, SMTP) then greets after two round trips, and a client's first bytes (a TLS
    ClientHello) reach the target when they would have."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        delay_ms: float = 40.0,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        handshake: bool = True,
    ):
        self.target = (target_host, target_port)
        self.listen = (listen_host, listen_port)
        self.delay_ms = float(delay_ms)
        self.handshake = handshake
        self.port = 0  # the bound port, known once started
        self.connections = 0  # client connections accepted
        self.failed_upstream = 0  # accepted, but the target refused or was unreachable
        self.bytes_up = 0  # client -> target
        self.bytes_down = 0  # target -> client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- lifecycle (from any thread) -------------------------------------------------------

    def start(self, timeout: float = 10.0) -> LatencyProxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._open())
            except BaseException as e:  # reported to start()'s caller below
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._close())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"latency-proxy-{self.target[1]}")
        self._thread.daemon = True
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the latency proxy did not start")
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._thread = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inside the loop -------------------------------------------------------------------

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._serve, *self.listen, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        self._server.close()
        await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):
        self.connections += 1
        task = asyncio.current_task()
        self._tasks.add(task)
        up: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        down: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        # The client's bytes are stamped from the start; they wait for the target below.
        pumps = [asyncio.ensure_future(self._read(client_r, up, "bytes_up"))]
        target_w = None
        try:
            if self.handshake:  # SYN ->, SYN-ACK <-, ACK ->: the target sees us after 3 legs
                await asyncio.sleep(3 * self.delay_ms / 1000)
            try:
                target_r, target_w = await asyncio.open_connection(*self.target)
            except OSError:
                self.failed_upstream += 1
                return
            pumps += [
                asyncio.ensure_future(self._read(target_r, down, "bytes_down")),
                asyncio.ensure_future(self._deliver(up, target_w)),
                asyncio.ensure_future(self._deliver(down, client_w)),
            ]
            await asyncio.gather(*pumps)
        except asyncio.CancelledError:
            pass
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            _abort(client_w)
            if target_w is not None:
                _abort(target_w)
            self._tasks.discard(task)

    async def _read(self, reader: asyncio.StreamReader, queue: asyncio.Queue, counter: str):
        """One direction's intake: stamp each chunk with the time it is due at the far side.
        The end of stream is queued too, and passed on (delayed) as a half-close."""
        while True:
            try:
                data = await reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = b""
            setattr(self, counter, getattr(self, counter) + len(data))
            queue.put_nowait((self._loop.time() + self.delay_ms / 1000, data))
            if not data:
                return

    async def _deliver(self, queue: asyncio.Queue, writer: asyncio.StreamWriter) -> None:
        while True:
            due, data = await queue.get()
            wait = due - self._loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                return  # that side is gone: its own reader sees the end and passes it on


def _abort(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=_host_port, help="where to forward, HOST:PORT")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    parser.add_argument("--listen", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--delay-ms", type=float, default=40.0, help="delay each way (ms)")
    parser.add_argument(
        "--no-handshake", action="store_true", help="do not charge new connections TCP's RTT"
    )
    args = parser.parse_args(argv)
    proxy = LatencyProxy(
        *args.target, args.delay_ms, args.listen, args.port, handshake=not args.no_handshake
    ).start()
    print(
        f"{args.listen}:{proxy.port} -> {args.target[0]}:{args.target[1]}, "
        f"+{args.delay_ms:g} ms each way (round trip +{2 * args.delay_ms:g} ms); Ctrl-C stops",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
        print(f"{proxy.connections} connection(s), {proxy.bytes_up:,} B up, "
              f"{proxy.bytes_down:,} B down")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
