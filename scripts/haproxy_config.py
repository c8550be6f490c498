"""HAProxy configuration for several Rasa replicas and action servers on one machine.

scripts/run.sh writes it when ``RASA_REPLICAS`` or ``ACTIONS_REPLICAS`` is above 1 and runs
Debian's haproxy with it (installed by scripts/setup.sh). Two front ends, on the ports the
single-process stack uses, so clients and endpoints.yml see no difference:

* ``RASA_PORT`` -> the Rasa replicas. Round robin per request (REST and WhatsApp turns of
  one conversation may land on different replicas: the tracker is in PostgreSQL and the
  conversation lock in Redis). socket.io needs every request of one session on one replica
  (its long-polling handshake): a cookie (``RASA_REPLICA``) pins a browser to its replica,
  and websocket upgrades stay on the connection they came in on. A replica is taken out
  when ``/webhooks/ops/ready?only=model`` stops answering (every 2 s, 2 misses) and put back
  when it answers again. A request whose connection fails or comes back empty (a replica
  killed mid-turn) is sent again to another replica (``retry-on``, ``redispatch``): Rasa
  saves a turn only once it is handled, so a turn that died with its replica was not saved.
  Each answer says which replica gave it (``X-Served-By``), for the tests and benchmarks.
* ``ACTIONS_PORT`` -> the action servers, round robin, ``/health`` checked the same way.

    python scripts/haproxy_config.py --rasa-port 5005 --rasa 5101 5102 \\
        --actions-port 5055 --actions 5151 5152 > /tmp/haproxy.cfg
"""

from __future__ import annotations

import argparse
import sys

# A turn waits for the action server (bot/action_endpoint.py bounds that to 10 s by
# default) and, after a replica died holding a conversation's lock, for the lock to expire
# (TICKET_LOCK_LIFETIME, which scripts/run.sh sets to 20 s with replicas).
SERVER_TIMEOUT = "60s"


def render(rasa_port: int | None, rasa: list[int], actions_port: int | None, actions: list[int],
           bind: str = "127.0.0.1", stats_port: int | None = None) -> str:
    lines = [
        "global",
        "    maxconn 4096",
        "    log stdout format raw local0 notice",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        "    timeout connect 2s",
        "    timeout client 120s",
        f"    timeout server {SERVER_TIMEOUT}",
        "    timeout tunnel 1h",  # socket.io websockets
        "    timeout http-request 30s",
        # A replica busy with 32 conversations answers its check late, not never: only a
        # refused connection or 3 checks without an answer in 15 s take it out.
        "    timeout check 15s",
        "    retries 3",
        "    option redispatch 1",
        "    retry-on conn-failure empty-response",
        "    option http-buffer-request",  # the body kept in memory: a retry can resend it
    ]
    if rasa_port and rasa:
        lines += [
        "",
        "frontend rasa",
        f"    bind {bind}:{rasa_port}",
        "    default_backend rasa_replicas",
        "",
        "backend rasa_replicas",
        "    balance roundrobin",
        "    cookie RASA_REPLICA insert indirect nocache httponly",
        "    http-response set-header X-Served-By %[srv_name]",  # which replica answered
        "    option httpchk GET /webhooks/ops/ready?only=model",
        "    http-check expect status 200",
        "    default-server inter 2s fall 3 rise 2 slowstart 5s",
        ]
        lines += [f"    server rasa{i} 127.0.0.1:{port} check cookie r{i}"
                  for i, port in enumerate(rasa, 1)]
    if actions_port and actions:
        lines += [
            "",
            "frontend actions",
            f"    bind 127.0.0.1:{actions_port}",  # Rasa calls it on this machine
            "    default_backend action_servers",
            "",
            "backend action_servers",
            "    balance roundrobin",
            "    option httpchk GET /health",
            "    http-check expect status 200",
            "    default-server inter 2s fall 3 rise 2",
        ]
        lines += [f"    server actions{i} 127.0.0.1:{port} check"
                  for i, port in enumerate(actions, 1)]
    if stats_port:
        lines += ["", "frontend stats", f"    bind 127.0.0.1:{stats_port}",
                  "    stats enable", "    stats uri /", "    stats refresh 5s"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-port", type=int)
    parser.add_argument("--rasa", type=int, nargs="*", default=[], help="replica ports")
    parser.add_argument("--actions-port", type=int)
    parser.add_argument("--actions", type=int, nargs="*", default=[])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--stats-port", type=int)
    args = parser.parse_args(argv)
    sys.stdout.write(render(args.rasa_port, args.rasa, args.actions_port, args.actions,
                            args.bind, args.stats_port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
