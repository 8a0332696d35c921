import asyncio


async def say_after(delay, what):
    await asyncio.sleep(delay)
    print(what)


async def main():
    print("sequential (await):")
    await say_after(0.02, "hello")
    await say_after(0.01, "world")
    print("concurrent (create_task):")
    task1 = asyncio.create_task(say_after(0.02, "hello"))
    task2 = asyncio.create_task(say_after(0.01, "world"))
    await task1
    await task2
    print("done")


asyncio.run(main())
