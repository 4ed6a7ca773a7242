from asgiws import Config
from asgiws.server.config import InvalidSetting, UnsupportedSetting


def refusal(**settings):
    """The error Config raises for these settings."""
    try:
        Config("main:app", **settings)
    except (ValueError, TypeError) as error:
        return error
    raise AssertionError(f"{settings} were accepted")


config = Config("main:app", ws_max_size=1024 * 1024, timeout_graceful_shutdown=None)
assert config.ws_max_size == 1024 * 1024
assert config.timeout_graceful_shutdown is None  # None: no limit, only when you ask for it

error = refusal(ws_max_size=-1)
assert isinstance(error, InvalidSetting)  # a ValueError naming the setting
assert error.name == "ws_max_size"
assert str(error) == "ws_max_size must be at least 0, got -1"

error = refusal(http2=True)  # a uvicorn setting asgiws does not do
assert isinstance(error, UnsupportedSetting)  # an InvalidSetting too
assert str(error) == "http2 is not supported: asgiws serves HTTP/1.1 only"

error = refusal(ws_max_sise=1024)  # a typo
assert isinstance(error, TypeError)
