#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A transparent TCP proxy that logs every HTTP request passing through it.

tests/stress/store-torture.sh puts it in front of the emulator's result-file
host, to count the downloads lumasrc makes and see which ranges they ask for:

    store-torture-proxy.py UPSTREAM_PORT LOG READY_FILE

It listens on a free port of 127.0.0.1, writes that port into READY_FILE
once listening, and forwards every connection to 127.0.0.1:UPSTREAM_PORT.
Each request appends a line to LOG: time, connection number, request line,
User-Agent (spaces as _) and Range ("-" for none), as in
    1700000000.123 conn=3 GET /r/t1/a.mp4 HTTP/1.1 ua=torture-c2 range=bytes=100-
It serves until killed. Python 3 standard library only.
"""
import asyncio
import itertools
import os
import sys
import time


def header(lines, name):
    """The value of header NAME among the request's header lines, or "-"."""
    prefix = name.lower() + ":"
    for line in lines:
        if line.lower().startswith(prefix):
            return line.split(":", 1)[1].strip()
    return "-"


def request_logger(conn, log):
    """A watcher of what the client sends: logs each request head.

    A GET has no body, so every blank line ends a request head.
    """
    buf = b""

    def watch(data):
        nonlocal buf
        buf += data
        while b"\r\n\r\n" in buf:
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin1").split("\r\n")
            ua = header(lines[1:], "User-Agent").replace(" ", "_")
            log.write("%.3f conn=%d %s ua=%s range=%s\n" % (
                time.time(), conn, lines[0], ua,
                header(lines[1:], "Range")))
    return watch


async def pipe(reader, writer, watch=None):
    """Copies one direction of a connection as it is; @watch sees it too."""
    try:
        while True:
            data = await reader.read(262144)
            if not data:
                break
            if watch is not None:
                watch(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main():
    upstream_port, log_path, ready_path = (int(sys.argv[1]), sys.argv[2],
                                           sys.argv[3])
    # line-buffered: the script counts the lines while clients run
    log = open(log_path, "a", buffering=1)
    conns = itertools.count(1)

    async def handle(client_reader, client_writer):
        conn = next(conns)
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, up_writer, request_logger(conn, log)),
            pipe(up_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # written whole, then renamed: the script never reads half a port
    with open(ready_path + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(ready_path + ".tmp", ready_path)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main())
