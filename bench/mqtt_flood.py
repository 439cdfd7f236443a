"""One huge MQTT message against `mepd run`: the daemon's peak RSS before and after (issue 18).

A real Mosquitto (no packet limit, its default) and one simulated meter on a pty; `mepd run`
in a process of its own. Once the daemon has announced itself and read for a few seconds, a
raw-socket publisher streams one message of --size-mb MB to --topic (Home Assistant's status
topic by default, which mepd subscribes to), then Home Assistant's birth message "online" on
the same connection. The publisher sends from a fixed 1 MiB buffer, so only the broker and
mepd hold the message. The daemon's VmHWM (/proc/PID/status) is read before the message and
once its RSS has been still for a few seconds after it; the discovery configs it sends again
for the "online" prove that the broker got past the big message and that mepd still listens.

    python bench/mqtt_flood.py [--size-mb 250] [--topic homeassistant/status] [--retain]

Prints one JSON object: the baseline and final peak RSS in MB, whether the daemon still ran.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.processes import GATEWAY_ID, Rig, start_daemon, stop_daemon  # noqa: E402
from bench.procstat import sample  # noqa: E402
from bench.subscriber import Subscriber  # noqa: E402
from mepd.publish.topics import Topics  # noqa: E402

CHUNK = 1 << 20
WARM_UP_S = 5.0  # readings flowing, discovery sent: the daemon's normal working set
STILL_S = 3.0  # RSS unchanged this long after the message: it has been dealt with
GIVE_UP_S = 120.0
BIRTH_TOPIC = "homeassistant/status"
CONFIGS = "homeassistant/device/+/config"
REDISCOVERY_WITHIN_S = 30.0  # the publisher waits a random 1-10 s after "online"


def _length(value: int) -> bytes:
    """MQTT's variable byte integer (remaining length)."""
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def _publish_header(topic: str, size: int, *, retain: bool) -> bytes:
    head = _string(topic)
    return bytes([0x30 | int(retain)]) + _length(len(head) + size) + head


def flood(port: int, topic: str, size: int, *, retain: bool) -> float:
    """Send one QoS 0 PUBLISH of `size` payload bytes over MQTT 3.1.1, then "online" on Home
    Assistant's status topic; seconds it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        connect = _string("MQTT") + bytes([4, 0x02]) + (60).to_bytes(2, "big")
        connect += _string("mepd-bench-flood")
        sock.sendall(bytes([0x10]) + _length(len(connect)) + connect)
        connack = sock.recv(4)
        if connack[:1] != b"\x20" or connack[3:4] != b"\x00":
            raise RuntimeError(f"the broker refused the flooding client: {connack.hex()}")
        sock.sendall(_publish_header(topic, size, retain=retain))
        chunk = memoryview(bytes(CHUNK))
        left = size
        while left:
            sent = min(left, CHUNK)
            sock.sendall(chunk[:sent])
            left -= sent
        sock.sendall(_publish_header(BIRTH_TOPIC, 6, retain=False) + b"online")
        sock.sendall(b"\xe0\x00")  # DISCONNECT
    return time.monotonic() - started


def wait_until_still(pid: int) -> tuple[int, float]:
    """Poll RSS until it has not changed for STILL_S; (peak RSS kB, seconds waited)."""
    started = time.monotonic()
    last, since = -1, started
    while time.monotonic() - started < GIVE_UP_S:
        now = sample(pid)
        if now is None:
            break
        if now.rss_kb != last:
            last, since = now.rss_kb, time.monotonic()
        elif time.monotonic() - since >= STILL_S:
            return now.hwm_kb, time.monotonic() - started
        time.sleep(0.1)
    final = sample(pid)
    return (final.hwm_kb if final else -1), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=250.0)
    parser.add_argument("--topic", default="homeassistant/status")
    parser.add_argument("--retain", action="store_true")
    args = parser.parse_args()
    size = int(args.size_mb * 1_000_000)
    with tempfile.TemporaryDirectory(prefix="mepd-flood-") as workdir:
        rig = Rig(meters=1, directory=Path(workdir))
        log_path = Path(workdir) / "daemon.log"
        try:
            with log_path.open("w") as log:
                daemon = start_daemon(rig.config, log)
                status = Topics("mepd", GATEWAY_ID).gateway_status
                watcher = Subscriber(rig.broker.port, (status, CONFIGS)).start()
                try:
                    if watcher.wait_for(lambda m: m.payload == b"online", within_s=30) is None:
                        raise RuntimeError(f"the daemon did not announce itself: {log_path}")
                    time.sleep(WARM_UP_S)
                    before = sample(daemon.pid)
                    assert before is not None, "the daemon exited during warm-up"
                    configs = len(watcher.select(lambda m: m.topic != status))
                    sent_s = flood(rig.broker.port, args.topic, size, retain=args.retain)
                    peak_kb, waited_s = wait_until_still(daemon.pid)
                    answered = watcher.wait_for(
                        lambda m: m.topic != status, configs + 1, REDISCOVERY_WITHIN_S
                    )
                finally:
                    watcher.stop()
                alive = daemon.poll() is None
                stop_daemon(daemon)
        finally:
            rig.close()
        lines = log_path.read_text().splitlines()
    result = {
        "message_mb": size / 1e6,
        "topic": args.topic,
        "retain": args.retain,
        "send_s": round(sent_s, 2),
        "settled_after_s": round(waited_s, 2),
        "peak_rss_before_mb": round(before.hwm_kb / 1024, 1),
        "peak_rss_after_mb": round(peak_kb / 1024, 1),
        "daemon_alive": alive,
        "daemon_answered_the_birth_message": answered is not None,
        "daemon_warnings": [line for line in lines if "WARNING" in line or "ERROR" in line][:5],
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
