"""Startup and shutdown: hooks, and the state they share with every request."""

from asgiws import App

app = App()


@app.on_startup
async def connect_database(state):  # a hook that takes an argument gets the lifespan state
    state["database"] = {"visits": 0}  # a stand-in for a connection pool


@app.on_shutdown
async def close_database(state):
    state["database"].clear()


@app.get("/visit")
async def visit(request):
    database = request.state["database"]  # each request gets a copy of the state: the same objects
    database["visits"] += 1
    return {"visits": database["visits"]}
