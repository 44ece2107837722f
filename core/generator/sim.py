"""The generator's clock and line writer: a simulated nova host that emits timestamped lines.

Lines are pushed with their simulated time and rendered in time order at the end, so many VM
lifecycles and the host's periodic tasks interleave as they do in a real compute log.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: Failures that can be injected; each is one instance's lifecycle gone wrong.
#: Vocabularies the generator can write in. "loghub" is the bundled samples' (Loghub's OpenStack
#: files); "other" is the same traffic as another deployment of a later release would log it:
#: no log-file prefix, other host, paths, client addresses, Python and API versions, a renamed
#: request logger and an extra field in its lines. A model trained on one has never seen the other.
DIALECTS: dict[str, dict[str, str]] = {
    "loghub": {},
    "other": {
        "": "no-file-prefix",
        "cp-1.slowvm1.tcloud-pg0.utah.cloudlab.us": "compute-07.dc2.example.net",
        "/var/lib/nova/instances": "/srv/nova/instances",
        "python2.7/dist-packages": "python3.10/site-packages",
        "nova.osapi_compute.wsgi.server": "nova.api.openstack.requestlog",
        "10.11.10.1": "192.168.40.12",
        " /v2/": " /v2.1/",
        " HTTP/1.1\" status:": " HTTP/1.1\" microversion: 2.79 status:",
        "Lifecycle Event)": "Lifecycle Event, power_state)",
    },
}

INCIDENT_KINDS: tuple[str, ...] = (
    "spawn_timeout", "volume_attach", "auth_error", "vif_plugging", "disk_full", "unexpected_shutdown",
    "no_valid_host",
)

FILES = {
    "api": ("nova-api.log.1.2017-05-16_13:53:08", 25746),
    "compute": ("nova-compute.log.1.2017-05-16_13:55:31", 2931),
    "scheduler": ("nova-scheduler.log.1.2017-05-16_13:53:08", 25750),
}
CLIENT_IP = "10.11.10.1"
FLAVORS = ((512, 1, 1), (2048, 20, 1), (4096, 40, 2), (8192, 80, 4))


@dataclass(frozen=True)
class Incident:
    """Where an injected failure sits: its kind, the anomalous session and its first line."""

    kind: str
    session: str
    first_line: int
    """1-based line number of the first anomalous line in the generated file."""
    ts: str


@dataclass
class GeneratedLog:
    lines: list[str]
    sessions: dict[str, str]
    """Every session key (as the built-in keyer sees it) → ``Normal`` or ``Anomaly``."""
    incidents: list[Incident] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    """Which service logged each line (``api``, ``compute``, ``scheduler``), in line order."""

    def labels_csv(self) -> str:
        """Loghub-style ``SessionId,Label`` ground truth."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["SessionId", "Label"])
        writer.writerows(sorted(self.sessions.items()))
        return out.getvalue()

    def incidents_json(self) -> str:
        return json.dumps([vars(i) for i in self.incidents], indent=2) + "\n"


@dataclass(order=True)
class Event:
    t: float
    seq: int
    line: str = field(compare=False)
    anomaly: str | None = field(default=None, compare=False)
    """Incident kind when this line is the start of (or part of) an incident."""
    session_hint: str | None = field(default=None, compare=False)
    service: str = field(default="compute", compare=False)


class Sim:
    """Accumulates timestamped lines; rendering and ordering happen at the end."""

    def __init__(self, rng: random.Random, start: datetime, host: str, dialect: str = "loghub") -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}; known: {', '.join(DIALECTS)}")
        self.dialect = DIALECTS[dialect]
        self.rng = rng
        self.start = start
        self.host = host
        self.events: list[Event] = []
        self.seq = 0
        self.user = self.hexid()
        self.tenant = self.hexid()
        self.neutron_user = self.hexid()
        self.neutron_tenant = self.hexid()
        self.periodic_req = self.req()
        self.lifecycle_req = self.req()
        self.base_file = "/var/lib/nova/instances/_base/" + "".join(rng.choice("0123456789abcdef") for _ in range(40))
        self.image = self.uuid()
        self.used_ram = 512
        self.used_vcpus = 0

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hexid(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def req(self) -> str:
        return "req-" + self.uuid()

    def user_ctx(self, req: str) -> str:
        return f"[{req} {self.user} {self.tenant} - - -]"

    @staticmethod
    def sys_ctx(req: str) -> str:
        return f"[{req} - - - - -]"

    def emit(self, t: float, file: str, level: str, component: str, ctx: str, message: str,
             anomaly: str | None = None, session_hint: str | None = None) -> None:
        name, pid = FILES[file]
        stamp = (self.start + timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        self.seq += 1
        line = f"{name} {stamp} {pid} {level} {component} {ctx} {message}"
        if self.dialect:  # another deployment and release: same events, other words
            line = line.split(" ", 1)[1] if self.dialect.get("", "") == "no-file-prefix" else line
            for old, new in self.dialect.items():
                if old:
                    line = line.replace(old, new)
        heapq.heappush(self.events, Event(t, self.seq, line, anomaly, session_hint, file))

    def api(self, t: float, method: str, path: str, status: int, req: str | None = None,
            ctx: str | None = None) -> None:
        req = req or self.req()
        length = {200: self.rng.choice((1583, 1874, 1893, 1916, 2149)), 202: 733, 204: 203}.get(status, 380)
        took = self.rng.uniform(0.08, 0.32) if method == "GET" else self.rng.uniform(0.2, 0.6)
        self.emit(t, "api", "INFO", "nova.osapi_compute.wsgi.server", ctx or self.user_ctx(req),
                  f'{CLIENT_IP} "{method} {path} HTTP/1.1" status: {status} len: {length} time: {took:.7f}')
