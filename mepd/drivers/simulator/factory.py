"""Assembling a simulated meter from its parts: one seed, one `random.Random`."""

from __future__ import annotations

import dataclasses
import random

from mepd.drivers.simulator.faults import FaultSettings
from mepd.drivers.simulator.history import ServedHistory
from mepd.drivers.simulator.meter import Meter, MeterKeys
from mepd.drivers.simulator.physics import PhysicsModel
from mepd.drivers.simulator.port import DEFAULT_RESPONSE_DELAY_S, MeterPort
from mepd.drivers.simulator.power import TransceiverPower
from mepd.drivers.simulator.profiles import MeterProfile
from mepd.drivers.simulator.stats import LinkStats
from mepd.drivers.tls_engine import DEFAULT_ENGINE, check_engine, server_engine
from mepd.protocol.keys import KeyId, MepKey, parse_key
from mepd.protocol.timing import DEFAULT_BAUD

# A documented demo key, not a secret: 20 printable characters as utilities print MBKs.
DEMO_MBK = "MEPD-DEMO-KEY-000001"


def with_load_profile_faults(profile: MeterProfile, faults: FaultSettings | None) -> MeterProfile:
    """The profile with the load profile knobs of `faults` applied (1-minute, wrapping)."""
    lp = profile.load_profile
    if faults is None or lp is None:
        return profile
    changed = dataclasses.replace(
        lp,
        interval_min=int(faults.lp_interval_min) or lp.interval_min,
        blocks=int(faults.lp_blocks) or lp.blocks,
        intervals_per_block=int(faults.lp_block_intervals) or lp.intervals_per_block,
    )
    return dataclasses.replace(profile, load_profile=changed)


def simulated_meter(
    profile: MeterProfile,
    *,
    mbk: str = DEMO_MBK,
    mak: str | None = None,
    seed: int = 0,
    epoch: float = 0.0,
    start_wall: float | None = None,
    baud: int = DEFAULT_BAUD,
    response_delay_s: tuple[float, float] = DEFAULT_RESPONSE_DELAY_S,
    alerts: bool = False,
    power: TransceiverPower | None = None,
    faults: FaultSettings | None = None,
    history_limit: int = 10_000,
    tls: str | None = None,
    requires_tls: bool = False,
) -> MeterPort:
    """A meter behind its MEP port. `epoch` is the host time at which physics time is 0.

    `tls` names the TLS engine the meter serves TLS mode with ("pure" or "mbedtls"; None: RC4
    only); `requires_tls` refuses RC4 requests too (and implies `tls="pure"` if none given).
    """
    rng = random.Random(seed)
    profile = with_load_profile_faults(profile, faults)
    keys = MeterKeys(
        MepKey(parse_key(mbk), KeyId.MBK),
        MepKey(parse_key(mak), KeyId.MAK) if mak is not None else None,
    )
    physics = PhysicsModel(seed=seed, tiers=profile.physics_tiers, settings=profile.load)
    if start_wall is not None:
        physics = PhysicsModel(
            seed=seed, tiers=profile.physics_tiers, settings=profile.load, start_wall=start_wall
        )
    meter = Meter(
        profile,
        keys,
        physics,
        rng=rng,
        stats=LinkStats(),
        history=ServedHistory(history_limit),
    )
    if requires_tls and tls is None:
        tls = DEFAULT_ENGINE
    if tls is not None:
        check_engine(tls)  # fail here, not at the first 0x58
        engine = tls
        meter.enable_tls(lambda lookup: server_engine(engine, lookup), required=requires_tls)
    return MeterPort(
        meter,
        rng=rng,
        epoch=epoch,
        baud=baud,
        response_delay_s=response_delay_s,
        alerts=alerts,
        power=power,
        faults=faults,
    )
