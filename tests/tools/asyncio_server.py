#!/usr/bin/env python3
"""asyncio.start_server(port=PORT) at its defaults: every address family of
the host (0.0.0.0 and [::], the latter IPV6_V6ONLY). Greets each client with
"asyncio TOKEN" and prints the names of its sockets once listening.

usage: asyncio_server.py PORT TOKEN [SECONDS]
"""
import asyncio
import sys

port, token = int(sys.argv[1]), sys.argv[2]
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 120


async def greet(_reader, writer):
    writer.write(f"asyncio {token}\n".encode())
    await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(greet, port=port)
    names = sorted(f"{s.getsockname()[0]} {s.getsockname()[1]}" for s in server.sockets)
    print("listening", ", ".join(names), flush=True)
    await asyncio.sleep(seconds)


asyncio.run(main())
