import asyncio


async def slow_operation(delay):
    await asyncio.sleep(delay)
    return f"finished after {delay}s"


async def main():
    try:
        result = await asyncio.wait_for(slow_operation(1), timeout=0.05)
        print(result)
    except asyncio.TimeoutError:
        print("timed out")
    result = await asyncio.wait_for(slow_operation(0.01), timeout=1)
    print(result)


asyncio.run(main())
