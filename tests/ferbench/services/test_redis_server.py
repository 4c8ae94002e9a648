"""The private redis-server of `ferbench up`: a real process on a free port, persistent, stopped cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from ferbench.services import redis_server
from ferbench.services.redis_server import RedisUnavailableError, ping, start_redis


def test_starts_on_a_free_port_answers_and_stops(tmp_path: Path) -> None:
    server = start_redis(tmp_path / "redis")
    try:
        assert server.port != 6379  # never the machine's shared Redis
        client = redis.Redis.from_url(server.url)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        client.set("k", "v")
        client.close()
    finally:
        server.stop()
    assert not ping(server.host, server.port)
    assert server.process is None


def test_queued_data_survives_a_restart_on_the_same_port(tmp_path: Path) -> None:
    with start_redis(tmp_path / "redis") as first:
        client = redis.Redis.from_url(first.url)
        client.rpush("gpu", "message")
        client.close()
    with start_redis(tmp_path / "redis", port=first.port) as second:
        client = redis.Redis.from_url(second.url)
        assert client.lrange("gpu", 0, -1) == [b"message"]
        client.close()


def test_a_busy_port_gives_a_clear_error(tmp_path: Path) -> None:
    with start_redis(tmp_path / "a") as running:
        with pytest.raises(RedisUnavailableError, match=f"port {running.port}"):
            start_redis(tmp_path / "b", port=running.port, timeout=5)


def test_no_binary_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_server, "find_redis_binary", lambda: None)
    with pytest.raises(RedisUnavailableError, match="FERBENCH_BROKER_URL"):
        start_redis(tmp_path)
