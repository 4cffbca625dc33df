"""The web server's own socket: accepted connections must have Nagle's algorithm off."""

from __future__ import annotations

import asyncio
import socket

from bot.startup import listening
from tests.conftest import Harness


async def test_accepted_connections_do_not_wait_for_delayed_acks(harness: Harness) -> None:
    """asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP; a listening
    socket made with protocol 0 passes 0 on to every connection, and each keep-alive answer
    then waits ~40 ms for the client's delayed ACK (webhooks/s fell from 4,800 to 715)."""
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    settings = harness.settings()
    async with listening(settings) as sock:
        server = await asyncio.start_server(accepted, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(settings.http_host, settings.http_port)
            assert await asyncio.wait_for(seen, 5) != 0
            writer.close()
