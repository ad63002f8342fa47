"""``lkbench serve``'s command line: options documented, loopback by default, remote hosts only
with --allow-remote and a warning, and a light import."""
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from lkbench.cli import cli
from lkbench.cli.serve import is_loopback, serve


def test_help_documents_every_option():
    for param in serve.params:
        if isinstance(param, click.Option):
            assert param.help, param.name
    res = CliRunner().invoke(cli, ["serve", "--help"])
    assert res.exit_code == 0 and "127.0.0.1" in res.output and "--allow-remote" in res.output


@pytest.mark.parametrize("host,loop", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                       ("127.0.0.2", True), ("0.0.0.0", False), ("::", False),
                                       ("192.168.1.5", False), ("example.org", False)])
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


def test_remote_host_needs_the_flag_and_warns(smoke_ckpt, monkeypatch):
    calls = []
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    # whether 8000/8123 are free on this machine is not what this test is about
    monkeypatch.setattr("lkbench.cli.serve.check_can_listen", lambda host, port: None)
    res = CliRunner().invoke(cli, ["serve", str(smoke_ckpt), "--host", "0.0.0.0"])
    assert res.exit_code == 2 and "add --allow-remote if you mean it" in res.output
    assert calls == []
    res = CliRunner().invoke(cli, ["serve", str(smoke_ckpt), "--host", "0.0.0.0",
                                   "--allow-remote", "--port", "8123", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "WARNING: listening on 0.0.0.0" in res.output
    (app, kw), = calls
    assert kw["host"] == "0.0.0.0" and kw["port"] == 8123
    assert app.state.renderer.config.max_body_bytes == 1024 * 1024
    calls.clear()
    res = CliRunner().invoke(cli, ["serve", str(smoke_ckpt), "--device", "cpu",
                                   "--max-body-kb", "8"])
    assert res.exit_code == 0 and "WARNING" not in res.output
    assert "http://127.0.0.1:8000" in res.output and calls[0][1]["host"] == "127.0.0.1"
    assert calls[0][0].state.renderer.config.max_body_bytes == 8192


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(cli, ["serve", str(tmp_path / "nope.pt")])
    assert res.exit_code == 2 and "checkpoint not found" in res.output


def test_importing_the_command_imports_neither_torch_nor_fastapi():
    code = ("import sys, lkbench.cli.serve; "
            "print('torch' in sys.modules, 'fastapi' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# -- host and port are checked before the URL is printed; `demo` works (issue 25) -------------

def test_busy_port_is_a_one_line_error_before_the_url(smoke_ckpt, monkeypatch):
    import socket

    calls = []
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = CliRunner().invoke(cli, ["serve", str(smoke_ckpt), "--port", str(port),
                                       "--device", "cpu"])
    assert res.exit_code == 2 and calls == []
    assert res.output.strip() == (f"Error: port {port} on 127.0.0.1 is already in use "
                                  "(another lkbench serve, or another server); choose a free "
                                  f"one, e.g. --port {port + 1}, or stop the program that "
                                  "holds it")
    assert "http://" not in res.output


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3", "bad_name", "::zz"])
def test_invalid_host_is_called_invalid_not_remote(host):
    res = CliRunner().invoke(cli, ["serve", "demo", "--host", host])
    assert res.exit_code == 2 and "is not a valid IP address or host name" in res.output
    assert "--allow-remote if you mean it" not in res.output


def test_serve_takes_demo_like_edit_does(monkeypatch):
    calls = []
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(app))
    monkeypatch.setattr("lkbench.cli.serve.check_can_listen", lambda host, port: None)
    res = CliRunner().invoke(cli, ["serve", "demo", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "lkbench editor for demo: http://127.0.0.1:8000" in res.output
    from fastapi.testclient import TestClient
    with TestClient(calls[0]) as client:
        info = client.get("/api/info").json()
    assert info["checkpoint"] == "demo" and len(info["checkpoint_sha256"]) == 64
