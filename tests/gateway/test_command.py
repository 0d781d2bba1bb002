"""`raybee gateway` as a user runs it: help, refused configurations, and a gateway process
(on the in-process test backend) that zbctl talks to and that SIGTERM stops cleanly."""

import re
import signal
import subprocess
import sys
import time

import pytest

RAYBEE = [sys.executable, "-m", "raybee.workloads.cli"]
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15


def test_help_says_how_to_secure_it():
    out = subprocess.run(
        [*RAYBEE, "gateway", "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for words in ("--tls-cert", "--tls-key", "--token", "--max-message-bytes", "127.0.0.1",
                  "--certPath", "create_oauth2_client_credentials_channel", "--embedded",
                  "--address", "RESOURCE_EXHAUSTED"):  # fmt: skip
        assert words in out, words


def test_half_a_tls_setup_is_refused(tmp_path):
    result = subprocess.run(
        [*RAYBEE, "gateway", "--in-process", "--tls-cert", str(tmp_path / "c.pem")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--tls-key" in result.stderr


def test_a_gateway_process_serves_zbctl_and_stops_on_sigterm(zbctl_factory):
    process = subprocess.Popen(
        [*RAYBEE, "gateway", "--in-process", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        line = process.stdout.readline()
        assert time.monotonic() < deadline, "the gateway did not start in time"
        match = re.search(r"on 127\.0\.0\.1:(\d+) \(plaintext, no token\)", line)
        assert match, line + process.stderr.read() if process.poll() is not None else line
        zbctl = zbctl_factory(f"127.0.0.1:{match.group(1)}", "--insecure")
        assert "Partition 1 : Leader, Healthy" in zbctl("status").stdout
        process.send_signal(signal.SIGTERM)
        assert process.wait(STOP_TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
            pytest.fail("the gateway did not stop on SIGTERM")
