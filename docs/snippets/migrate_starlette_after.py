from asgiws import App, HTTPException

items = {1: "tea"}
app = App()


@app.route("/")
async def home(request):
    return "Hello"


@app.route("/items/{item_id:int}")
async def item(request):
    item_id = request.path_params["item_id"]
    if item_id not in items:
        raise HTTPException(404, "no such item")
    return {"id": item_id, "name": items[item_id]}


@app.websocket("/echo")  # accepted before the handler runs
async def echo(websocket):
    async for message in websocket:  # text and binary messages alike
        await websocket.send(f"echo: {message}")
