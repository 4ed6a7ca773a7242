"""Routes: path patterns with typed fields, methods, what a handler may return, errors."""

from asgiws import App, HTTPException, JSONResponse

app = App()
items = {1: {"name": "tea"}}


@app.route("/")  # GET (and HEAD) by default
async def home(request):
    return "Hello"  # str: text/plain


@app.route("/items/{item_id:int}")  # {name:int} matches digits and passes an int
async def read_item(request):
    item_id = request.path_params["item_id"]
    if item_id not in items:
        raise HTTPException(404, "no such item")  # the detail is the body; the client sees nothing else
    return items[item_id]  # dict or list: JSON


@app.route("/items", methods=["POST"])
async def create_item(request):
    item = await request.json()  # invalid JSON: 400
    item_id = max(items) + 1
    items[item_id] = item
    return JSONResponse({"id": item_id, **item}, status_code=201)


@app.get("/files/{name:path}")  # {name:path} matches the rest, slashes included
def file_name(request):  # a plain function runs in a worker thread
    return request.path_params["name"]


@app.get("/search")
async def search(request):
    words = request.query_params.getlist("q")  # ?q=a&q=b
    agent = request.headers.get("user-agent", "")  # headers are case-insensitive
    return {"words": words, "agent": agent}
