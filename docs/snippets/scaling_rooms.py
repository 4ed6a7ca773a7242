import os

import asgiws

pubsub = asgiws.PubSub(os.environ.get("ASGIWS_REDIS_URL"))  # in this process without a URL; connects on first use
app = asgiws.App(on_shutdown=[pubsub.close])


@app.websocket("/rooms/{room}")
async def room(websocket):
    name = websocket.path_params["room"]
    async with pubsub.join(name, websocket):  # every message on `name`, from any process
        async for message in websocket:
            await pubsub.publish(name, message)  # returns the message's offset
