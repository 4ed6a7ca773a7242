import pytest

pytestmark = pytest.mark.anyio


async def test_home(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert response.text == "Hello"


async def test_notes_are_kept(client):
    created = await client.post("/notes", json={"text": "buy milk"})
    assert created.status_code == 201
    listed = await client.get("/notes")
    assert listed.json() == [{"text": "buy milk"}]


async def test_countdown_streams(client):
    lines = []
    async with client.stream("GET", "/countdown") as response:
        async for line in response.aiter_lines():
            lines.append(line)  # each line as soon as the app sends it
    assert lines == ["3", "2", "1", "liftoff"]
