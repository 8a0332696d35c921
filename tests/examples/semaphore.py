import asyncio


async def worker(sem, name):
    async with sem:
        print(f"{name} acquired")
        await asyncio.sleep(0.05)
        print(f"{name} released")


async def main():
    sem = asyncio.Semaphore(2)
    await asyncio.gather(*(worker(sem, f"task-{i}") for i in range(3)))


asyncio.run(main())
