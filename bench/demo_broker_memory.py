"""The demo broker (mepd/cli/broker.py) under abuse: its peak RSS and the connections it holds.

Three runs, each against a fresh broker in a process of its own (peak RSS from VmHWM in
/proc/PID/status), driven over raw sockets by this process:

* retained: 300 retained messages of --retained-kib KiB each (1000: just under 1 MiB);
* flood: a subscriber to `#` that never reads, then --flood-mib MiB of 200 KiB messages;
* idle: --idle connections that send CONNECT with keepalive 0 and then nothing; counted
  after --idle-wait-s seconds (the broker's open sockets in /proc/PID/fd).

    python bench/demo_broker_memory.py [--broker-file PATH] [--retained-kib 1000] ...

--broker-file loads `EmbeddedBroker` from another copy of broker.py, for the figures before
a change (e.g. `git show 9f75d5e:mepd/cli/broker.py > /tmp/old_broker.py`). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from mepd.cli.broker import encode_length, encode_packet, encode_utf8

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BROKER = ROOT / "mepd" / "cli" / "broker.py"

_CHILD = """
import asyncio, importlib.util, sys
spec = importlib.util.spec_from_file_location("demo_broker", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["demo_broker"] = module  # dataclasses look their module up
spec.loader.exec_module(module)
async def main():
    broker = module.EmbeddedBroker()
    await broker.start()
    print(broker.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def _connect(port: int, client_id: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    body = encode_utf8("MQTT") + bytes([4, 0x02]) + (0).to_bytes(2, "big") + encode_utf8(client_id)
    sock.sendall(encode_packet(1, 0, body))
    return sock


def _publish_header(topic: str, size: int, *, retain: bool) -> bytes:
    head = encode_utf8(topic)
    return bytes([3 << 4 | (1 if retain else 0)]) + encode_length(len(head) + size) + head


def _readlink(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""


class BrokerProcess:
    def __init__(self, broker_file: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(broker_file)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self._listening = self._sockets()

    def _sockets(self) -> int:
        fds = Path(f"/proc/{self.process.pid}/fd")
        return sum(1 for fd in fds.iterdir() if _readlink(fd).startswith("socket:"))

    def connections(self) -> int:
        """Client connections the broker holds open now (its sockets but the listeners)."""
        return self._sockets() - self._listening

    def status(self, field: str) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB -> MB
        return float("nan")

    def settle(self, seconds: float = 2.0) -> None:
        """Wait until RSS has stopped moving (the broker caught up with what was sent)."""
        last, still = -1.0, 0.0
        while still < seconds:
            time.sleep(0.25)
            rss = self.status("VmRSS")
            still = still + 0.25 if abs(rss - last) < 1 else 0.0
            last = rss

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def _send_all(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
    except OSError:
        return False  # the broker closed this connection: a bound at work
    return True


def retained(broker_file: Path, kib: int) -> dict[str, object]:
    broker = BrokerProcess(broker_file)
    try:
        base = broker.status("VmHWM")
        sock = _connect(broker.port, "retainer")
        payload = b"r" * (kib * 1024)
        sent = 0
        for index in range(300):
            if not _send_all(sock, _publish_header(f"r/{index}", len(payload), retain=True)):
                break
            if not _send_all(sock, payload):
                break
            sent += 1
        broker.settle()
        return {
            "messages_sent": sent,
            "message_kib": kib,
            "baseline_mb": round(base, 1),
            "peak_mb": round(broker.status("VmHWM"), 1),
        }
    finally:
        broker.close()


def flood(broker_file: Path, mib: int) -> dict[str, object]:
    broker = BrokerProcess(broker_file)
    try:
        base = broker.status("VmHWM")
        slow = _connect(broker.port, "slow")
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(encode_packet(8, 2, b"\x00\x01" + encode_utf8("#") + b"\x00"))
        time.sleep(0.3)
        flooder = _connect(broker.port, "flooder")
        payload = b"f" * (200 * 1024)
        sent = 0
        while sent < mib * 1024 * 1024:
            if not _send_all(flooder, _publish_header("flood", len(payload), retain=False)):
                break
            if not _send_all(flooder, payload):
                break
            sent += len(payload)
        broker.settle()
        held = broker.connections()  # 2 while the slow subscriber is still held
        return {
            "flood_mib": round(sent / 1024 / 1024),
            "baseline_mb": round(base, 1),
            "peak_mb": round(broker.status("VmHWM"), 1),
            "connections_held": held,
            "slow_subscriber_dropped": held < 2,
        }
    finally:
        broker.close()


def idle(broker_file: Path, count: int, wait_s: float) -> dict[str, object]:
    broker = BrokerProcess(broker_file)
    sockets: list[socket.socket] = []
    try:
        for index in range(count):
            try:
                sockets.append(_connect(broker.port, f"idle-{index}"))
            except OSError:
                break
        time.sleep(wait_s)
        held = broker.connections()
        return {
            "connections_opened": len(sockets),
            "held_after_s": wait_s,
            "held": held,
            "peak_mb": round(broker.status("VmHWM"), 1),
        }
    finally:
        for sock in sockets:
            sock.close()
        broker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker-file", type=Path, default=DEFAULT_BROKER)
    parser.add_argument("--retained-kib", type=int, default=1000)
    parser.add_argument("--flood-mib", type=int, default=200)
    parser.add_argument("--idle", type=int, default=3000)
    parser.add_argument("--idle-wait-s", type=float, default=12.0)
    args = parser.parse_args()
    result = {
        "broker": str(args.broker_file),
        "retained": retained(args.broker_file, args.retained_kib),
        "retained_under_the_packet_limit": retained(args.broker_file, 200),
        "flood": flood(args.broker_file, args.flood_mib),
        "idle": idle(args.broker_file, args.idle, args.idle_wait_s),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
