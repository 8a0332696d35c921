import asyncio
import time


class RateLimiter:
    def __init__(self, rate, per):
        self.rate = rate
        self.per = per
        self.tokens = rate
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    async def acquire(self):
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate / self.per)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) * self.per / self.rate)


async def worker(name, queue, limiter, results):
    while True:
        job = await queue.get()
        await limiter.acquire()
        results.append(f"job {job} squared is {job * job}")
        queue.task_done()


async def main():
    queue = asyncio.Queue()
    limiter = RateLimiter(rate=5, per=0.1)
    results = []
    for job in range(8):
        queue.put_nowait(job)
    workers = [asyncio.create_task(worker(f"worker-{i}", queue, limiter, results)) for i in range(3)]
    await queue.join()
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    for line in sorted(results):
        print(line)
    print(f"{len(results)} jobs done")


asyncio.run(main())
