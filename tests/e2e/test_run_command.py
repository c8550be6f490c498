"""`make run` (scripts/run.sh) starts every process and Ctrl-C stops all of them."""

from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.stack import child_pids, port_open, running_stack

pytestmark = pytest.mark.e2e


def test_run_starts_the_stack_and_ctrl_c_stops_everything(tmp_path):
    with running_stack(tmp_path, default_brand="cavita") as stack:
        children = child_pids(stack.process.pid)
        assert len(children) == 3  # backend stub, action server, Rasa server
        assert requests.get(f"http://127.0.0.1:{stack.ports['backend']}/health",
                            timeout=5).ok
        reply = requests.post(f"{stack.url}/webhooks/rest/webhook",
                              json={"sender": "run-test", "message": "ciao"}, timeout=60)
        assert "CA Vita" in reply.json()[0]["text"]  # deployment default brand honoured
        assert stack.stop() == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(port_open(p) for p in stack.ports.values()):
        time.sleep(0.5)
    assert not [name for name, port in stack.ports.items() if port_open(port)]
    assert "stopped" in stack.log.read_text()
