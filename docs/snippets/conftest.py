import pytest
from testing_app import app

from asgiws.testing import TestClient


@pytest.fixture
def anyio_backend():
    return "asyncio"  # TestClient runs on asyncio


@pytest.fixture
async def client():
    async with TestClient(app) as client:  # runs the app's startup, then its shutdown
        yield client
