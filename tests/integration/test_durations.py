"""One duration syntax (ms, s, m, h, d, with a fraction; a bare number in the
flag's old unit) on every duration flag of every tool: src/util/duration.c,
whose unit test has the edge cases. Here: each binary takes it."""

import subprocess

import pytest

from conftest import binary, free_port

SECRET = b"duration-test-secret-of-at-least-32-bytes"


def run(name, *args):
    return subprocess.run([binary(name)] + list(args), capture_output=True, text=True,
                          timeout=60)


def test_server_takes_hours_and_days(start_server):
    # Issue 14: "--sse-heartbeat 1h" was "not a valid duration".
    server = start_server("--sse-heartbeat", "1h", "--idle-timeout", "1d", "--ping-interval",
                          "1.5m", "--dedup-seconds", "10m", "--close-timeout", "250ms")
    assert server.proc.poll() is None


@pytest.mark.parametrize("flag,value", [("--sse-heartbeat", "1x"), ("--close-timeout", "1.5ms"),
                                        ("--dedup-seconds", "1.5s")])
def test_server_refuses_what_is_not_a_duration(flag, value):
    p = run("ringcast", flag, value)
    assert p.returncode == 2, p.stderr
    assert "ms, s, m, h or d" in p.stderr, p.stderr


@pytest.mark.parametrize("value", ["2s", "250ms", "0.5m", "3000"])  # bare: milliseconds
def test_pub_timeout(value):
    # Nothing listens: a connection error (3), not a usage error (2).
    p = run("ringcast-pub", "--server", "127.0.0.1:%d" % free_port(), "--timeout", value, "t", "1")
    assert p.returncode == 3, (value, p.returncode, p.stderr)


@pytest.mark.parametrize("value", ["0ms", "1.5ms", "1x", "-1s"])
def test_pub_timeout_refused(value):
    p = run("ringcast-pub", "--timeout", value, "t", "1")
    assert p.returncode == 2, (value, p.stderr)
    assert "--timeout" in p.stderr and "ms, s, m, h or d" in p.stderr


@pytest.mark.parametrize("ttl", ["7d", "1h", "1.5m", "90000ms", "90"])
def test_token_ttl(tmp_path, ttl):
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    p = run("ringcast-token", "--secret-file", str(secret), "--ttl", ttl)
    assert p.returncode == 0, (ttl, p.stderr)


def test_token_ttl_must_be_whole_seconds(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    p = run("ringcast-token", "--secret-file", str(secret), "--ttl", "1500ms")
    assert p.returncode == 2 and "whole seconds" in p.stderr, p.stderr


@pytest.mark.parametrize("value", ["1h", "1.5s", "250ms", "0.5m", "10"])
def test_bench_durations(value):
    # A later bad flag is what gets refused: the duration before it was taken.
    p = run("ringcast-bench", "--duration", value, "--warmup", value, "--threads", "0")
    assert p.returncode == 2, p.stderr
    assert "--threads" in p.stderr and "--duration" not in p.stderr, p.stderr


def test_bench_refuses_more_than_a_day():
    p = run("ringcast-bench", "--duration", "2d")
    assert p.returncode == 2 and "--duration" in p.stderr, p.stderr
