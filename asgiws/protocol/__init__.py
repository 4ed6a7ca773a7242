"""The sans-I/O protocol core: bytes in, events out, bytes to send.

Nothing in this package does I/O or imports asyncio: the server, the client
and the tests drive it alike (see "How it is built" in README.md).
"""
