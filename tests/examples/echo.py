import asyncio


async def handle_echo(reader, writer):
    data = await reader.readline()
    host, port = writer.get_extra_info("peername")
    print(f"server: received {data.decode().strip()!r} from {host}")
    writer.write(data)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main():
    server = await asyncio.start_server(handle_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"Hello World!\n")
        await writer.drain()
        data = await reader.readline()
        print(f"client: received {data.decode().strip()!r}")
        writer.close()
        await writer.wait_closed()
    print("server closed")


asyncio.run(main())
