import asyncio


async def job(name, delay):
    await asyncio.sleep(delay)
    return f"{name} done after {delay}s"


async def main():
    jobs = [("A", 0.03), ("B", 0.01), ("C", 0.02)]
    tasks = [asyncio.create_task(job(name, delay)) for name, delay in jobs]
    for next_done in asyncio.as_completed(tasks):
        print(await next_done)


asyncio.run(main())
