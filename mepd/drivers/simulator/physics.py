"""The electricity a simulated meter measures: a pure, seedable model with `truth_at(t)`.

Everything is in the meter's integer resolution (mV, mA, W, var, VA, mHz, PF x1000, Wh), and
the integers are made consistent the way a meter's are:

- per phase, active power is V x I x PF computed from the *integer* mV, mA and PF x1000, so a
  client that multiplies what it read gets the power it read;
- totals are net sums of the integer phase values: Fwd W - Rev W equals the sum of the signed
  phase powers exactly (a 3-phase meter nets the phases; p.215-219 list L1L2L3 separately from
  the per-phase Fwd/Rev W of fw 3.50+);
- energy registers integrate the integer total power over time in W.s, so Wh never decreases,
  import and export separately (p.208: registers count whole Wh).

Time is piecewise constant in steps of `STEP_S`: each step's noise comes from its own
`random.Random` seeded with (seed, step), so `truth_at(t)` does not depend on which instants
were asked before, and two models with the same seed agree everywhere.

Registers never go backwards across runs: a model starting at wall time W begins with the
registers a meter would have had it run at `LoadSettings.ceiling_va()` (no household can draw
more, on any register) ever since `SIM_EPOCH`. A later run starts at least as far on as any
earlier one can have got, so any number of `mepd demo` runs show a rising register.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

STEP_S = 1.0
PHASES = 3
NOMINAL_VOLTAGE_V = 230.0
NOMINAL_FREQUENCY_MHZ = 50_000
_WS_PER_WH = 3600
_APPLIANCE_WINDOW_S = 300.0
_SECONDS_PER_DAY = 86_400.0
SIM_EPOCH = 1_796_083_200.0  # 2026-12-01 00:00 UTC: registers count up from here (see above)
_MAX_DAILY_SHAPE = 0.7 + 1.0 + 1.6  # `_daily_shape`: trough plus both peaks at their highest
_MAX_NOISE = 1.1  # `_instant`: base load x (0.9 + 0.2 x random)
_MAX_APPLIANCE = 1.5  # `_instant`: appliance x (0.5 + random)
_CEILING_MARGIN = 1.05  # the integer quantisation of V and I, with room to spare


@dataclass(frozen=True)
class LoadSettings:
    """What the household looks like: base loads, appliances and a solar inverter."""

    base_load_w: tuple[float, float, float] = (180.0, 240.0, 120.0)
    appliance_w: float = 2000.0
    appliance_chance: float = 0.2  # per phase, per 5-minute window
    load_power_factor: tuple[float, float] = (0.85, 0.99)
    solar_peak_w: float = 3500.0
    solar_phases: tuple[int, ...] = (0,)  # a single-phase inverter on L1: L1 exports at noon
    voltage_noise_v: float = 1.5
    frequency_noise_mhz: float = 15.0
    active_phases: int = 3  # 1: a single-phase meter; L2 and L3 carry nothing
    always_exporting: tuple[int, ...] = ()  # phases whose generator never stops (day or night)

    def ceiling_va(self) -> int:
        """A bound on every register's rate (W, var, VA): the most apparent power possible."""
        total = 0.0
        low_pf = min(self.load_power_factor)
        for phase in range(self.active_phases):
            load = self.base_load_w[phase] * _MAX_DAILY_SHAPE * _MAX_NOISE
            load += self.appliance_w * _MAX_APPLIANCE
            total += load / low_pf + self._generation_peak(phase)
        return math.ceil(total * _CEILING_MARGIN) + 10 * PHASES

    def _generation_peak(self, phase: int) -> float:
        if phase in self.always_exporting:
            return self.solar_peak_w
        if phase in self.solar_phases:
            return self.solar_peak_w / len(self.solar_phases)
        return 0.0


@dataclass(frozen=True)
class PhaseTruth:
    """One phase at one instant. `active_w` and `reactive_var` are signed: + import, - export."""

    voltage_mv: int
    current_ma: int
    power_factor_milli: int  # |PF| x 1000
    active_w: int
    reactive_var: int
    apparent_va: int
    sin_phase_angle_milli: int
    voltage_angle_centideg: int

    @property
    def forward_w(self) -> int:
        return max(self.active_w, 0)

    @property
    def reverse_w(self) -> int:
        return max(-self.active_w, 0)

    @property
    def import_var(self) -> int:
        return max(self.reactive_var, 0)

    @property
    def export_var(self) -> int:
        return max(-self.reactive_var, 0)


@dataclass(frozen=True)
class Energy:
    """Energy registers in whole Wh, varh and VAh: never decreasing."""

    forward_wh: int
    reverse_wh: int
    import_varh: int
    export_varh: int
    quadrant_varh: tuple[int, int, int, int]  # Q1..Q4
    quadrant_vah: tuple[int, int, int, int]  # Q1..Q4 apparent (fw 4.0+)


@dataclass(frozen=True)
class Truth:
    """What the meter measures at `t` seconds after the model's start."""

    t: float
    wall: float  # UTC seconds since the epoch: the meter's clock
    phases: tuple[PhaseTruth, ...]
    frequency_mhz: int
    energy: Energy
    tier: int  # 0-based tariff tier active now
    tier_energy: tuple[Energy, ...]

    @property
    def net_w(self) -> int:
        return sum(phase.active_w for phase in self.phases)

    @property
    def forward_w(self) -> int:
        return max(self.net_w, 0)

    @property
    def reverse_w(self) -> int:
        return max(-self.net_w, 0)

    @property
    def net_var(self) -> int:
        return sum(phase.reactive_var for phase in self.phases)

    @property
    def import_var(self) -> int:
        return max(self.net_var, 0)

    @property
    def export_var(self) -> int:
        return max(-self.net_var, 0)

    @property
    def apparent_va(self) -> int:
        return sum(phase.apparent_va for phase in self.phases)

    @property
    def quadrant(self) -> int:
        """1..4, the quadrant of (net W, net var): Q1 import/inductive ... Q4 import/capacitive."""
        return _quadrant(self.net_w, self.net_var)


def _quadrant(watts: int, vars_: int) -> int:
    if watts >= 0:
        return 1 if vars_ >= 0 else 4
    return 2 if vars_ >= 0 else 3


@dataclass(frozen=True)
class _Instant:
    phases: tuple[PhaseTruth, ...]
    frequency_mhz: int

    @property
    def net_w(self) -> int:
        return sum(phase.active_w for phase in self.phases)

    @property
    def net_var(self) -> int:
        return sum(phase.reactive_var for phase in self.phases)

    @property
    def apparent_va(self) -> int:
        return sum(phase.apparent_va for phase in self.phases)


# Accumulator layout, in W.s / var.s / VA.s: fwd, rev, import, export, Q1-4 var, Q1-4 VA.
_ACCUMULATORS = 12


def _rates(instant: _Instant) -> tuple[int, ...]:
    net_w, net_var, apparent = instant.net_w, instant.net_var, instant.apparent_va
    quadrant = _quadrant(net_w, net_var)
    rates = [max(net_w, 0), max(-net_w, 0), max(net_var, 0), max(-net_var, 0)]
    rates += [abs(net_var) if quadrant == q else 0 for q in (1, 2, 3, 4)]
    rates += [apparent if quadrant == q else 0 for q in (1, 2, 3, 4)]
    return tuple(rates)


def _energy(joules: list[float]) -> Energy:
    wh = [math.floor(value / _WS_PER_WH) for value in joules]
    return Energy(
        forward_wh=wh[0],
        reverse_wh=wh[1],
        import_varh=wh[2],
        export_varh=wh[3],
        quadrant_varh=(wh[4], wh[5], wh[6], wh[7]),
        quadrant_vah=(wh[8], wh[9], wh[10], wh[11]),
    )


@dataclass
class PhysicsModel:
    """A household behind a meter. `truth_at(t)` is pure in t; results are cached per step."""

    seed: int = 0
    start_wall: float = 1_718_964_000.0  # 2024-06-21 10:00 UTC: the sun is up
    tiers: int = 4
    settings: LoadSettings = field(default_factory=LoadSettings)
    _checkpoints: list[tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]] = field(
        default_factory=list, init=False, repr=False
    )

    def __post_init__(self) -> None:
        start = random.Random(f"{self.seed}:registers")
        # A meter that has been in service a while: a few MWh imported, some exported.
        initial = [0] * _ACCUMULATORS
        initial[0] = start.randrange(2_000_000, 40_000_000) * _WS_PER_WH
        initial[1] = start.randrange(100_000, 5_000_000) * _WS_PER_WH
        initial[2] = start.randrange(100_000, 3_000_000) * _WS_PER_WH
        initial[3] = start.randrange(10_000, 500_000) * _WS_PER_WH
        # Runs before this one: at most the ceiling rate since SIM_EPOCH (see the docstring).
        since_epoch = max(self.start_wall - SIM_EPOCH, 0.0)
        initial = [value + round(self.settings.ceiling_va() * since_epoch) for value in initial]
        # The tiers share the history so that they add up to the total (tier 0 takes the rest).
        tiers = max(self.tiers, 1)
        shares = [[value // tiers for value in initial] for _ in range(tiers)]
        shares[0] = [value - (tiers - 1) * (value // tiers) for value in initial]
        self._checkpoints.append((tuple(initial), tuple(tuple(t) for t in shares)))

    # --- public API ---------------------------------------------------------------------------

    def truth_at(self, t: float) -> Truth:
        """The meter's measurements `t` seconds after the model's start (t >= 0)."""
        t = max(t, 0.0)
        step = int(t // STEP_S)
        instant = self._instant(step)
        totals, tiers = self._checkpoint(step)
        into_step = t - step * STEP_S
        rates = _rates(instant)
        tier = self.tier_at(step * STEP_S)
        total_now = [base + rate * into_step for base, rate in zip(totals, rates, strict=True)]
        tier_now = [
            [
                base + (rate * into_step if index == tier else 0)
                for base, rate in zip(accumulators, rates, strict=True)
            ]
            for index, accumulators in enumerate(tiers)
        ]
        return Truth(
            t=t,
            wall=self.start_wall + t,
            phases=instant.phases,
            frequency_mhz=instant.frequency_mhz,
            energy=_energy(total_now),
            tier=tier,
            tier_energy=tuple(_energy(values) for values in tier_now),
        )

    def rates_at(self, t: float) -> tuple[int, ...]:
        """What the registers integrate at `t` (any t, also before the start): W fwd, W rev,
        var import, var export, ... (the accumulator layout); for the load profile's past."""
        return _rates(self._instant(math.floor(t / STEP_S)))

    @property
    def initial_ws(self) -> tuple[int, ...]:
        """The accumulators (W.s, var.s, VA.s) at t = 0."""
        return self._checkpoints[0][0]

    def tier_at(self, t: float) -> int:
        """Tariff tiers split the UTC day into equal blocks (a simple TOU calendar)."""
        if self.tiers <= 0:
            return 0
        seconds_of_day = (self.start_wall + t) % _SECONDS_PER_DAY
        return int(seconds_of_day * self.tiers // _SECONDS_PER_DAY)

    # --- integration --------------------------------------------------------------------------

    def _checkpoint(self, step: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
        """Accumulators at the start of `step`: integer W.s of integer powers, step by step."""
        while len(self._checkpoints) <= step:
            done = len(self._checkpoints) - 1
            totals, tiers = self._checkpoints[done]
            rates = _rates(self._instant(done))
            span = round(STEP_S)
            tier = self.tier_at(done * STEP_S)
            new_totals = tuple(a + r * span for a, r in zip(totals, rates, strict=True))
            new_tiers = tuple(
                tuple(a + r * span for a, r in zip(acc, rates, strict=True)) if i == tier else acc
                for i, acc in enumerate(tiers)
            )
            self._checkpoints.append((new_totals, new_tiers))
        return self._checkpoints[step]

    def _instant(self, step: int) -> _Instant:
        settings = self.settings
        rng = random.Random(f"{self.seed}:{step}")
        t = step * STEP_S
        hour = ((self.start_wall + t) % _SECONDS_PER_DAY) / 3600.0
        window = int(t // _APPLIANCE_WINDOW_S)
        solar = settings.solar_peak_w * max(0.0, math.sin(math.pi * (hour - 6.0) / 12.0))
        solar *= 0.85 + 0.15 * random.Random(f"{self.seed}:cloud:{window}").random()
        phases = []
        for phase in range(PHASES):
            if phase >= settings.active_phases:
                phases.append(_phase(0.0, 0.0, 0.0, phase * 12_000))  # nothing connected
                continue
            appliances = random.Random(f"{self.seed}:appliance:{window}:{phase}")
            load = settings.base_load_w[phase] * _daily_shape(hour) * (0.9 + 0.2 * rng.random())
            if appliances.random() < settings.appliance_chance:
                load += settings.appliance_w * (0.5 + appliances.random())
            low, high = settings.load_power_factor
            load_pf = low + (high - low) * appliances.random()
            reactive = load * math.tan(math.acos(load_pf))
            generated = solar / len(settings.solar_phases) if phase in settings.solar_phases else 0
            if phase in settings.always_exporting:  # a battery inverter, say: day and night
                generated = settings.solar_peak_w * (0.9 + 0.1 * appliances.random())
            voltage = NOMINAL_VOLTAGE_V + rng.gauss(0.0, settings.voltage_noise_v)
            # A phase exporting lifts its voltage a little, as on a real feeder.
            voltage += 0.002 * (generated - load)
            angle = phase * 12_000 + round(rng.gauss(0.0, 20.0))
            phases.append(_phase(voltage, load - generated, reactive, angle))
        frequency = NOMINAL_FREQUENCY_MHZ + round(
            40 * math.sin(t / 600.0) + rng.gauss(0.0, settings.frequency_noise_mhz)
        )
        return _Instant(tuple(phases), frequency)


def _daily_shape(hour: float) -> float:
    """Morning and evening peaks on a night-time trough (UTC hours; good enough for a test)."""
    morning = math.exp(-(((hour - 7.5) / 1.2) ** 2))
    evening = 1.6 * math.exp(-(((hour - 19.0) / 2.0) ** 2))
    return 0.7 + morning + evening


def _phase(voltage_v: float, active_w: float, reactive_var: float, angle: int) -> PhaseTruth:
    """Quantise one phase so that P = V x I x PF holds in the meter's integers."""
    voltage_mv = round(voltage_v * 1000)
    apparent = math.hypot(active_w, reactive_var)
    current_ma = round(apparent / voltage_v * 1000) if voltage_v > 0 else 0
    pf_milli = round(abs(active_w) / apparent * 1000) if apparent > 0 else 1000
    apparent_va = round(voltage_mv * current_ma / 1_000_000)
    power = round(voltage_mv * current_ma * pf_milli / 1_000_000_000)
    signed_power = power if active_w >= 0 else -power
    reactive = math.isqrt(max(apparent_va * apparent_va - power * power, 0))
    signed_reactive = reactive if reactive_var >= 0 else -reactive
    sin_angle = round(signed_reactive / apparent_va * 1000) if apparent_va else 0
    return PhaseTruth(
        voltage_mv=voltage_mv,
        current_ma=current_ma,
        power_factor_milli=pf_milli,
        active_w=signed_power,
        reactive_var=signed_reactive,
        apparent_va=apparent_va,
        sin_phase_angle_milli=sin_angle,
        voltage_angle_centideg=angle,
    )
