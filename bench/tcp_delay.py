"""A TCP proxy that delays every byte by D ms each way (internet latency on loopback).

Runs its own asyncio loop in a daemon thread, so a benchmark can put a server behind it:

    with DelayProxy("127.0.0.1", dovecot.port, one_way_ms=40) as proxy:
        ...connect to proxy.host, proxy.port (80 ms round trip)...

Bytes keep their order; each chunk is sent D ms after it was read, so a stream's throughput is
not capped, only its latency raised (as on a long, fat link).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class DelayProxy:
    host = "127.0.0.1"

    def __init__(self, target_host: str, target_port: int, *, one_way_ms: float):
        self.target = (target_host, target_port)
        self.delay = one_way_ms / 1000
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> DelayProxy:
        self._thread.start()
        ready = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = ready.result(10)
        return self

    def stop(self) -> None:
        async def close():
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, 0, backlog=4096)
        return self._server.sockets[0].getsockname()[1]

    async def _handle(self, client_r, client_w) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(self._pump(client_r, server_w), self._pump(server_r, client_w))
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a reset, or stop(): end this pair quietly
        finally:
            for w in (client_w, server_w):
                w.close()

    async def _pump(self, reader, writer) -> None:
        """Copy reader to writer, each chunk `delay` after it arrived; EOF travels too."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                at, data = await queue.get()
                if (wait := at - loop.time()) > 0:
                    await asyncio.sleep(wait)
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while True:
                data = await reader.read(65536)
                queue.put_nowait((loop.time() + self.delay, data))
                if not data:
                    break
            await sender
        finally:
            sender.cancel()
