import asyncio
import contextvars

request_id = contextvars.ContextVar("request_id", default="-")


def log(message):
    print(f"[{request_id.get()}] {message}")


async def handle(rid, delay):
    request_id.set(rid)
    log("start")
    await asyncio.sleep(delay)
    log("end")


async def main():
    log("main begins")
    await asyncio.gather(handle("req-1", 0.02), handle("req-2", 0.01))
    token = request_id.set("req-main")
    log("inside a request of its own")
    request_id.reset(token)
    log("main ends")


asyncio.run(main())
