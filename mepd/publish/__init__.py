"""Publishing: MQTT transport and Home Assistant discovery, fed by the poller's events."""

from mepd.publish.client import BrokerError
from mepd.publish.discovery import ReadPeriods
from mepd.publish.gateway import GatewayInfo, detect_gateway
from mepd.publish.publisher import Publisher
from mepd.publish.removal import remove_discovery

__all__ = [
    "BrokerError",
    "GatewayInfo",
    "Publisher",
    "ReadPeriods",
    "detect_gateway",
    "remove_discovery",
]
