#!/usr/bin/env python3
"""The aiohttp peer of the http benchmark (benchmarks/http_bench.py):
/hello answers "Hello, World!" as text/plain.  Usage: http_aiohttp.py PORT
(Debian's python3-aiohttp; access log off)."""
import sys

from aiohttp import web


async def hello(request):
    return web.Response(text="Hello, World!")


app = web.Application()
app.router.add_get("/hello", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None,
            print=None)
