import uvicorn


def make_server(app, port=8000):
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws_ping_interval=30, timeout_graceful_shutdown=10
    )
    return uvicorn.Server(config)  # then: await server.serve()
