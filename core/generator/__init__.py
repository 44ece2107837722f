"""Deterministic generator of realistic nova (OpenStack compute) logs, with injected incidents.

The bundled ``sample_logs/`` and most tests come from here, so the project ships no
third-party log data. The formats follow Loghub's OpenStack files (read, not copied): a
log-file prefix, ``date time pid LEVEL component [request context]``, then the message,
with ``[instance: <uuid>]`` on instance lines. A simulation clock drives many concurrent VM
lifecycles (claim, image, spawn, network, reboot, volume attach, resize, delete) interleaved
with API polling and the compute host's periodic tasks. Incidents replace part of one
instance's lifecycle with a failure an operator would recognise; ground truth (anomalous
sessions, first anomalous line) comes out beside the lines.

Run ``python -m logwatch.core.generator OUT_DIR`` to (re)write the sample logs.
"""

from __future__ import annotations

import heapq
import json
import random
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from ..parse import parse_line
from ..sessions import SessionKeyer
from .instance import Instance
from .sim import INCIDENT_KINDS, GeneratedLog, Incident, Sim

__all__ = ["INCIDENT_KINDS", "SAMPLES", "SERVICE_SAMPLE", "GeneratedLog", "Incident", "generate_log", "main",
           "write_sample_logs", "write_service_logs"]


# -- the host's background ------------------------------------------------------------------
def _periodic_tasks(sim: Sim, end: float, noise: float) -> None:
    """Resource audits, image cache checks, usage audits, scheduler syncs and API polling."""
    rng, host, base, ctx = sim.rng, sim.host, sim.base_file, sim.sys_ctx(sim.periodic_req)
    t = rng.uniform(0, 20)
    while t < end:
        sim.emit(t, "compute", "INFO", "nova.compute.resource_tracker", ctx,
                 f"Auditing locally available compute resources for node {host}")
        sim.emit(t + 0.4, "compute", "INFO", "nova.compute.resource_tracker", ctx,
                 f"Total usable vcpus: 16, total allocated vcpus: {sim.used_vcpus}")
        sim.emit(t + 0.41, "compute", "INFO", "nova.compute.resource_tracker", ctx,
                 f"Final resource view: name={host} phys_ram=64172MB used_ram={sim.used_ram}MB phys_disk=15GB "
                 f"used_disk={sim.used_vcpus * 20}GB total_vcpus=16 used_vcpus={sim.used_vcpus} pci_stats=[]")
        sim.emit(t + 0.5, "compute", "INFO", "nova.compute.resource_tracker", ctx,
                 f"Compute_service record updated for {host}:{host}")
        t += rng.uniform(58, 62)
    t = rng.uniform(0, 40)
    while t < end:
        sim.emit(t, "compute", "INFO", "nova.virt.libvirt.imagecache", ctx, f"image {sim.image} at ({base}): checking")
        sim.emit(t + 0.001, "compute", "INFO", "nova.virt.libvirt.imagecache", ctx,
                 f"image {sim.image} at ({base}): in use: on this node 1 local, 0 on other nodes sharing this instance storage")
        sim.emit(t + 0.18, "compute", "INFO", "nova.virt.libvirt.imagecache", ctx, f"Active base files: {base}")
        if rng.random() < 0.3:
            sim.emit(t + 0.19, "compute", "WARNING", "nova.virt.libvirt.imagecache", ctx, f"Unknown base file: {base}")
            sim.emit(t + 0.2, "compute", "INFO", "nova.virt.libvirt.imagecache", ctx, f"Removable base files: {base}")
            sim.emit(t + 0.21, "compute", "INFO", "nova.virt.libvirt.imagecache", ctx,
                     f"Base or swap file too young to remove: {base}")
        t += rng.uniform(38, 42)
    t = rng.uniform(0, 300)
    while t < end:
        day = sim.start + timedelta(seconds=t)
        hour = day.replace(minute=0, second=0, microsecond=0)
        sim.emit(t, "compute", "INFO", "nova.compute.manager", ctx,
                 f"Running instance usage audit for host {host} from {hour - timedelta(hours=1):%Y-%m-%d %H:%M:%S} "
                 f"to {hour:%Y-%m-%d %H:%M:%S}. {rng.randint(40, 120)} instances.")
        t += rng.uniform(240, 360)  # nova's instance_usage_audit period, shortened for a short log
    t = rng.uniform(0, 60)
    while t < end:
        req = sim.req()
        message = (f"The instance sync for host '{host}' did not match. Re-created its InstanceList."
                   if rng.random() < 0.1 else f"Successfully synced instances from host '{host}'.")
        sim.emit(t, "scheduler", "INFO", "nova.scheduler.host_manager", sim.sys_ctx(req), message)
        t += rng.uniform(55, 65)
    t = 0.0
    while t < end:
        sim.api(t, "GET", f"/v2/{sim.tenant}/servers/detail", 200)
        t += rng.expovariate(noise / 2.5) if noise > 0 else end


def generate_log(*, seed: int = 0, n_instances: int = 100, incidents: Sequence[str] = (),
                 start: str = "2017-05-16 00:00:00", noise: float = 1.0,
                 host: str = "cp-1.slowvm1.tcloud-pg0.utah.cloudlab.us", dialect: str = "loghub") -> GeneratedLog:
    """Generate a nova log: ``n_instances`` VM lifecycles, host noise, and the given incidents.

    Deterministic for a given seed; ``dialect`` chooses the vocabulary (:data:`sim.DIALECTS`).
    Incidents are placed on instances spread evenly through the log (never the first few, so a
    monitor has seen normal traffic before them).
    """
    unknown = [k for k in incidents if k not in INCIDENT_KINDS]
    if unknown:
        raise ValueError(f"unknown incident kind(s) {unknown}; known: {', '.join(INCIDENT_KINDS)}")
    rng = random.Random(seed)
    sim = Sim(rng, datetime.strptime(start, "%Y-%m-%d %H:%M:%S"), host, dialect)
    placed = {int((i + 1) * n_instances / (len(incidents) + 1)): kind for i, kind in enumerate(incidents)}
    t = 1.0
    for i in range(n_instances):
        Instance(sim, t, placed.get(i)).run()
        t += rng.expovariate(1 / 8.0)
    _periodic_tasks(sim, max(e.t for e in sim.events) + 1.0 if sim.events else 60.0, noise)
    return _finish(sim)


def _finish(sim: Sim) -> GeneratedLog:
    keyer = SessionKeyer(None)
    lines: list[str] = []
    services: list[str] = []
    sessions: dict[str, str] = {}
    found: dict[tuple[str, str], Incident] = {}
    while sim.events:
        event = heapq.heappop(sim.events)
        lines.append(event.line)
        services.append(event.service)
        key = keyer.key(event.line, "generated")
        if event.anomaly is None:
            sessions.setdefault(key, "Normal")
            continue
        sessions[key] = "Anomaly"
        if (event.anomaly, key) not in found:
            ts = parse_line(event.line).ts or ""
            found[(event.anomaly, key)] = Incident(event.anomaly, key, len(lines), ts)
    return GeneratedLog(lines, sessions, sorted(found.values(), key=lambda i: i.first_line), services)


# -- the bundled sample ----------------------------------------------------------------------
#: name → (seed, instances, incidents). Changing these changes sample_logs/ and the default model.
SAMPLES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "nova_train": (1, 300, ()),
    "nova_valid": (2, 120, ()),
    "incident_build_failures": (3, 120, ("spawn_timeout", "volume_attach", "auth_error")),
    "incident_host_trouble": (4, 120, ("vif_plugging", "disk_full", "unexpected_shutdown")),
}


def write_sample_logs(out_dir: str | Path, progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write every sample log with its ground truth (``.labels.csv``, ``.incidents.json``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, (seed, n_instances, incidents) in SAMPLES.items():
        log = generate_log(seed=seed, n_instances=n_instances, incidents=incidents)
        path = out / f"{name}.log"
        path.write_text("\n".join(log.lines) + "\n", encoding="utf-8")
        (out / f"{name}.labels.csv").write_text(log.labels_csv(), encoding="utf-8")
        if incidents:
            (out / f"{name}.incidents.json").write_text(log.incidents_json(), encoding="utf-8")
        written.append(path)
        if progress:
            progress(f"{path}: {len(log.lines):,} lines, {len(log.sessions):,} sessions, "
                     f"{sum(v == 'Anomaly' for v in log.sessions.values())} anomalous")
    return written


#: The multi-service sample: one run (seed, instances, incidents) written as a deployment keeps
#: it, one file per service. The no-valid-host failure goes from nova-compute to the scheduler.
SERVICE_SAMPLE: tuple[int, int, tuple[str, ...]] = (5, 120, ("volume_attach", "no_valid_host"))
SERVICE_FILES = {"api": "nova-api.log", "scheduler": "nova-scheduler.log", "compute": "nova-compute.log"}


def write_service_logs(out_dir: str | Path, progress: Callable[[str], None] | None = None) -> list[Path]:
    """The api, scheduler and compute logs of one run into ``OUT_DIR/services/``, with its ground
    truth: ``labels.csv`` and ``incidents.json``, where ``first_line`` counts in the merged
    timeline (``logwatch score services/*.log``) and ``source``/``source_line`` name the file."""
    seed, n_instances, incidents = SERVICE_SAMPLE
    log = generate_log(seed=seed, n_instances=n_instances, incidents=incidents)
    out = Path(out_dir) / "services"
    out.mkdir(parents=True, exist_ok=True)
    per_file: dict[str, list[str]] = {service: [] for service in SERVICE_FILES}
    where: list[tuple[str, int]] = []
    for line, service in zip(log.lines, log.services):
        per_file[service].append(line)
        where.append((SERVICE_FILES[service], len(per_file[service])))
    written = []
    for service, lines in per_file.items():
        path = out / SERVICE_FILES[service]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    (out / "labels.csv").write_text(log.labels_csv(), encoding="utf-8")
    truth = [{**vars(i), "source": where[i.first_line - 1][0], "source_line": where[i.first_line - 1][1]}
             for i in log.incidents]
    (out / "incidents.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    if progress:
        progress(f"{out}: {len(log.lines):,} lines in {len(per_file)} files "
                 f"({', '.join(f'{SERVICE_FILES[s]} {len(v):,}' for s, v in per_file.items())}), "
                 f"{sum(v == 'Anomaly' for v in log.sessions.values())} anomalous sessions")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m logwatch.core.generator OUT_DIR   (writes the bundled sample logs)", file=sys.stderr)
        return 2
    write_sample_logs(args[0], progress=print)
    write_service_logs(args[0], progress=print)
    return 0


