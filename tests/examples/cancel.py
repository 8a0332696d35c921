import asyncio


async def worker():
    try:
        print("worker: started")
        await asyncio.sleep(10)
        print("worker: finished")
    except asyncio.CancelledError:
        print("worker: cancelled, cleaning up")
        raise


async def main():
    task = asyncio.create_task(worker())
    await asyncio.sleep(0.01)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("main: the worker is cancelled")
    print(f"cancelled: {task.cancelled()}")


asyncio.run(main())
