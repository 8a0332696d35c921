#!/usr/bin/env python3
"""Peer benchmark: the asyncio echo server of echo_asyncio.py (the Protocol
API, asyncio's fastest), run unchanged on uvloop's event loop (Debian's
python3-uvloop, libuv underneath).

Usage: echo_uvloop.py [--host ADDR] PORT    (PORT 0: the kernel picks one)
Prints one line on stdout when it accepts connections:
  echo_uvloop: listening on ADDR:PORT
and nothing else.  Exits with status 3 and a note when uvloop is missing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import uvloop
except ImportError:
    sys.stderr.write("echo_uvloop: uvloop is not installed "
                     "(Debian: python3-uvloop)\n")
    sys.exit(3)

import echo_asyncio

if __name__ == "__main__":
    echo_asyncio.main("echo_uvloop", uvloop.new_event_loop)
