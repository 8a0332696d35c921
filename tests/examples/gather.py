import asyncio


async def fetch(url):
    await asyncio.sleep(0.05)
    if "bad" in url:
        raise ConnectionError(f"Failed to fetch {url}")
    return f"<html of {url}>"


async def main():
    urls = ["a.example", "b.example", "bad.example", "c.example"]
    results = await asyncio.gather(*(fetch(u) for u in urls), return_exceptions=True)
    for url, r in zip(urls, results):
        if isinstance(r, Exception):
            print(f"{url}: error: {r}")
        else:
            print(f"{url}: {r}")


asyncio.run(main())
