import asyncio
import time


def blocking_io(n):
    time.sleep(0.05)
    return f"blocking call {n} done"


async def main():
    print("start")
    results = await asyncio.gather(
        asyncio.to_thread(blocking_io, 1),
        asyncio.to_thread(blocking_io, 2),
        asyncio.sleep(0.01, result="sleep done"),
    )
    for r in results:
        print(r)


asyncio.run(main())
