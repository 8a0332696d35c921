import asyncio


async def producer(queue, n):
    for i in range(n):
        await queue.put(i)
        print(f"produced {i}")


async def consumer(queue, name):
    while True:
        item = await queue.get()
        await asyncio.sleep(0.01 * (item + 1))
        print(f"{name} consumed {item}")
        queue.task_done()


async def main():
    queue = asyncio.Queue(maxsize=2)
    consumers = [asyncio.create_task(consumer(queue, f"consumer-{i}")) for i in range(2)]
    await producer(queue, 5)
    await queue.join()
    for c in consumers:
        c.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)
    print("all work done")


asyncio.run(main())
