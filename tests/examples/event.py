import asyncio


async def waiter(event, name):
    print(f"{name} waiting")
    await event.wait()
    print(f"{name} got the event")


async def main():
    event = asyncio.Event()
    tasks = [asyncio.create_task(waiter(event, f"waiter-{i}")) for i in range(2)]
    await asyncio.sleep(0.01)
    print("setting the event")
    event.set()
    await asyncio.gather(*tasks)


asyncio.run(main())
