import asyncio


async def countdown(n):
    while n > 0:
        await asyncio.sleep(0.01)
        yield n
        n -= 1


async def accumulator():
    total = 0
    while True:
        value = yield total
        total += value


async def main():
    async for i in countdown(3):
        print(f"T-minus {i}")
    print("liftoff")
    acc = accumulator()
    await acc.asend(None)
    for v in [1, 2, 3]:
        print(f"running total: {await acc.asend(v)}")
    await acc.aclose()


asyncio.run(main())
