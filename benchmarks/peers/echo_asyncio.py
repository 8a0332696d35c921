#!/usr/bin/env python3
"""Peer benchmark: an echo server on Python's asyncio.

Written with the Protocol API (asyncio.Protocol: data_received() writes
the data straight back with transport.write()), not with streams
(start_server / StreamReader / StreamWriter): streams add a Python-level
buffer, a future per read and a coroutine switch per message on top of the
same transport, so the Protocol API is asyncio's fastest way to echo and
the fair figure to compare with.  The transport already sets TCP_NODELAY
and writes straight to the socket when its own buffer is empty.

A client that sends faster than it reads is paused by the transport's
flow control (pause_reading() when the write buffer passes its high-water
mark, resume_reading() when it drains).

Usage: echo_asyncio.py [--host ADDR] PORT    (PORT 0: the kernel picks one)
Prints one line on stdout when it accepts connections:
  echo_asyncio: listening on ADDR:PORT
and nothing else.  SIGINT or SIGTERM end it.

echo_uvloop.py runs this same code on uvloop's event loop.
"""
import argparse
import asyncio
import signal
import sys


class Echo(asyncio.Protocol):
    __slots__ = ("transport",)

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def serve(name, host, port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, host, port, backlog=4096,
                                      reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    print(f"{name}: listening on {host}:{bound}", flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set_result, None)
    await stop
    server.close()


def main(name, new_loop=None):
    ap = argparse.ArgumentParser(prog=name, description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("port", type=int)
    args = ap.parse_args()
    if not 0 <= args.port <= 65535:
        ap.error(f"bad port: {args.port}")
    loop = new_loop() if new_loop else asyncio.new_event_loop()
    try:
        loop.run_until_complete(serve(name, args.host, args.port))
    except OSError as e:
        sys.exit(f"{name}: cannot listen on {args.host}:{args.port}: {e.strerror}")
    finally:
        loop.close()


if __name__ == "__main__":
    main("echo_asyncio")
