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

import csv
import heapq
import io
import json
import random
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from .sessions import SessionKeyer

#: Failures that can be injected; each is one instance's lifecycle gone wrong.
INCIDENT_KINDS: tuple[str, ...] = (
    "spawn_timeout", "volume_attach", "auth_error", "vif_plugging", "disk_full", "unexpected_shutdown",
)

_FILES = {
    "api": ("nova-api.log.1.2017-05-16_13:53:08", 25746),
    "compute": ("nova-compute.log.1.2017-05-16_13:55:31", 2931),
    "scheduler": ("nova-scheduler.log.1.2017-05-16_13:53:08", 25750),
}
_CLIENT_IP = "10.11.10.1"
_FLAVORS = ((512, 1, 1), (2048, 20, 1), (4096, 40, 2), (8192, 80, 4))


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
class _Event:
    t: float
    seq: int
    line: str = field(compare=False)
    anomaly: str | None = field(default=None, compare=False)
    """Incident kind when this line is the start of (or part of) an incident."""
    session_hint: str | None = field(default=None, compare=False)


class _Sim:
    """Accumulates timestamped lines; rendering and ordering happen at the end."""

    def __init__(self, rng: random.Random, start: datetime, host: str) -> None:
        self.rng = rng
        self.start = start
        self.host = host
        self.events: list[_Event] = []
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
        name, pid = _FILES[file]
        stamp = (self.start + timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        self.seq += 1
        line = f"{name} {stamp} {pid} {level} {component} {ctx} {message}"
        heapq.heappush(self.events, _Event(t, self.seq, line, anomaly, session_hint))

    def api(self, t: float, method: str, path: str, status: int, req: str | None = None,
            ctx: str | None = None) -> None:
        req = req or self.req()
        length = {200: self.rng.choice((1583, 1874, 1893, 1916, 2149)), 202: 733, 204: 203}.get(status, 380)
        took = self.rng.uniform(0.08, 0.32) if method == "GET" else self.rng.uniform(0.2, 0.6)
        self.emit(t, "api", "INFO", "nova.osapi_compute.wsgi.server", ctx or self.user_ctx(req),
                  f'{_CLIENT_IP} "{method} {path} HTTP/1.1" status: {status} len: {length} time: {took:.7f}')


# -- one instance --------------------------------------------------------------------------
class _Instance:
    def __init__(self, sim: _Sim, t0: float, incident: str | None) -> None:
        self.sim, self.t, self.incident = sim, t0, incident
        self.id = sim.uuid()
        self.req = sim.req()
        self.mem, self.disk, self.vcpus = sim.rng.choice(_FLAVORS)
        self.tag = f"[instance: {self.id}]"
        self.failed = False

    def log(self, dt: float, level: str, component: str, message: str, *, ctx: str | None = None,
            anomaly: bool = False) -> None:
        self.t += dt
        self.sim.emit(self.t, "compute", level, component, ctx or self.sim.user_ctx(self.req),
                      f"{self.tag} {message}", self.incident if anomaly else None, self.id)

    def traceback(self, component: str, frames: Sequence[str], error: str) -> None:
        self.log(0.001, "ERROR", component, "Traceback (most recent call last):", anomaly=True)
        for frame in frames:
            self.log(0.0, "ERROR", component, frame, anomaly=True)
        self.log(0.0, "ERROR", component, error, anomaly=True)

    def lifecycle_event(self, dt: float, what: str, *, anomaly: bool = False) -> None:
        self.log(dt, "INFO", "nova.compute.manager", f"VM {what} (Lifecycle Event)",
                 ctx=self.sim.sys_ctx(self.sim.lifecycle_req), anomaly=anomaly)

    def run(self) -> None:
        sim, rng = self.sim, self.sim.rng
        sim.api(self.t, "POST", f"/v2/{sim.tenant}/servers", 202, req=self.req)
        self.claim()
        self.log(rng.uniform(0.4, 1.2), "INFO", "nova.virt.libvirt.driver", "Creating image")
        if self.incident == "disk_full":
            return self.fail_disk_full()
        if self.incident == "spawn_timeout":
            return self.fail_spawn_timeout()
        if self.incident == "vif_plugging":
            return self.fail_vif_plugging()
        if self.incident == "auth_error":
            return self.fail_auth()
        self.spawn()
        self.active_phase()
        self.delete()

    def claim(self) -> None:
        sim = self.sim
        self.log(0.4, "INFO", "nova.compute.claims",
                 f"Attempting claim: memory {self.mem} MB, disk {self.disk} GB, vcpus {self.vcpus} CPU")
        self.log(0.001, "INFO", "nova.compute.claims", f"Total memory: 64172 MB, used: {sim.used_ram:.2f} MB")
        self.log(0.0, "INFO", "nova.compute.claims",
                 f"memory limit: 96258.00 MB, free: {96258 - sim.used_ram:.2f} MB")
        self.log(0.0, "INFO", "nova.compute.claims", "Total disk: 15 GB, used: 0.00 GB")
        self.log(0.0, "INFO", "nova.compute.claims", "disk limit not specified, defaulting to unlimited")
        self.log(0.001, "INFO", "nova.compute.claims", f"Total vcpu: 16 VCPU, used: {sim.used_vcpus:.2f} VCPU")
        self.log(0.0, "INFO", "nova.compute.claims", "vcpu limit not specified, defaulting to unlimited")
        self.log(0.001, "INFO", "nova.compute.claims", "Claim successful")

    def spawn(self) -> None:
        sim, rng = self.sim, self.sim.rng
        begin = self.t
        self.lifecycle_event(rng.uniform(6, 14), "Started")
        self.lifecycle_event(0.06, "Paused")
        self.log(0.13, "INFO", "nova.compute.manager",
                 "During sync_power_state the instance has a pending task (spawning). Skip.",
                 ctx=sim.sys_ctx(sim.lifecycle_req))
        ext = sim.req()
        ext_ctx = f"[{ext} {sim.neutron_user} {sim.neutron_tenant} - - -]"
        port = sim.uuid()
        sim.emit(self.t + 5.5, "api", "INFO", "nova.api.openstack.compute.server_external_events", ext_ctx,
                 f"Creating event network-vif-plugged:{port} for instance {self.id}")
        sim.api(self.t + 5.51, "POST", f"/v2/{sim.neutron_tenant}/os-server-external-events", 200, req=ext, ctx=ext_ctx)
        self.lifecycle_event(rng.uniform(5.5, 6.5), "Resumed")
        self.log(0.006, "INFO", "nova.virt.libvirt.driver", "Instance spawned successfully.", ctx="[-]")
        self.log(0.001, "INFO", "nova.compute.manager",
                 f"Took {self.t - begin + rng.uniform(0.5, 1.5):.2f} seconds to spawn the instance on the hypervisor.")
        if rng.random() < 0.5:
            self.log(0.11, "INFO", "nova.compute.manager",
                     "During sync_power_state the instance has a pending task (spawning). Skip.",
                     ctx=sim.sys_ctx(sim.lifecycle_req))
        self.log(rng.uniform(0.05, 0.2), "INFO", "nova.compute.manager",
                 f"Took {self.t - begin + rng.uniform(1.0, 2.0):.2f} seconds to build instance.")
        sim.used_ram += self.mem
        sim.used_vcpus += self.vcpus

    def active_phase(self) -> None:
        sim, rng = self.sim, self.sim.rng
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            self.t += rng.uniform(3, 40)
            sim.api(self.t, "GET", f"/v2/{sim.tenant}/servers/{self.id}", 200)
        action = rng.choices(("none", "reboot", "volume", "resize"), weights=(5, 2, 2, 1))[0]
        if self.incident == "volume_attach":
            action = "volume"
        if self.incident == "unexpected_shutdown":
            return self.fail_unexpected_shutdown()
        if action == "reboot":
            self.t += rng.uniform(5, 60)
            sim.api(self.t, "POST", f"/v2/{sim.tenant}/servers/{self.id}/action", 202, req=self.req)
            self.log(0.05, "INFO", "nova.compute.manager", "Rebooting instance")
            self.log(rng.uniform(2, 5), "INFO", "nova.virt.libvirt.driver", "Instance shutdown successfully.", ctx="[-]")
            self.lifecycle_event(0.3, "Stopped")
            self.lifecycle_event(rng.uniform(1, 3), "Started")
            self.log(0.2, "INFO", "nova.virt.libvirt.driver", "Instance rebooted successfully.", ctx="[-]")
        elif action == "volume":
            self.attach_volume()
        elif action == "resize":
            self.t += rng.uniform(5, 60)
            sim.api(self.t, "POST", f"/v2/{sim.tenant}/servers/{self.id}/action", 202, req=self.req)
            self.log(0.3, "INFO", "nova.compute.claims",
                     f"Attempting claim: memory {self.mem * 2} MB, disk {self.disk} GB, vcpus {self.vcpus * 2} CPU")
            self.log(0.001, "INFO", "nova.compute.claims", "Claim successful")
            self.log(0.2, "INFO", "nova.virt.libvirt.driver", "Instance shutdown successfully.", ctx="[-]")
            self.lifecycle_event(0.4, "Stopped")
            self.log(rng.uniform(2, 6), "INFO", "nova.compute.manager", "Migrating instance to the same host")
            self.lifecycle_event(rng.uniform(3, 8), "Started")
            self.log(0.1, "INFO", "nova.virt.libvirt.driver", "Instance running successfully.", ctx="[-]")
            self.log(rng.uniform(5, 30), "INFO", "nova.compute.manager", "Confirming resize of instance")

    def attach_volume(self) -> None:
        sim, rng = self.sim, self.sim.rng
        volume = sim.uuid()
        self.t += rng.uniform(5, 60)
        sim.api(self.t, "POST", f"/v2/{sim.tenant}/servers/{self.id}/os-volume_attachments", 200, req=self.req)
        self.log(0.1, "INFO", "nova.compute.manager", f"Attaching volume {volume} to /dev/vdb")
        if self.incident == "volume_attach":
            self.log(rng.uniform(0.5, 2), "ERROR", "nova.virt.block_device",
                     f"Driver failed to attach volume {volume} at /dev/vdb", anomaly=True)
            self.traceback("nova.virt.block_device", (
                '  File "/usr/lib/python2.7/dist-packages/nova/virt/block_device.py", line 279, in attach',
                "    device_type=self['device_type'], encryption=encryption)",
                '  File "/usr/lib/python2.7/dist-packages/nova/virt/libvirt/driver.py", line 1308, in attach_volume',
                "    guest.attach_device(conf, persistent=True, live=live)",
            ), "libvirtError: internal error: unable to execute QEMU command 'device_add': Duplicate ID 'virtio-disk1' for device")
            self.log(0.05, "ERROR", "nova.compute.manager", f"Failed to attach {volume} at /dev/vdb", anomaly=True)
            return
        self.log(rng.uniform(0.5, 2), "INFO", "nova.virt.block_device", f"Volume {volume} attached at /dev/vdb")
        if rng.random() < 0.7:
            self.t += rng.uniform(10, 60)
            sim.api(self.t, "DELETE", f"/v2/{sim.tenant}/servers/{self.id}/os-volume_attachments/{volume}", 202)
            self.log(0.1, "INFO", "nova.compute.manager", f"Detach volume {volume} from mountpoint /dev/vdb")

    def delete(self, *, api: bool = True) -> None:
        sim, rng = self.sim, self.sim.rng
        self.t += rng.uniform(4, 90)
        if api:
            sim.api(self.t, "DELETE", f"/v2/{sim.tenant}/servers/{self.id}", 204, req=self.req)
        self.log(0.04, "INFO", "nova.compute.manager", "Terminating instance")
        self.log(0.2, "INFO", "nova.virt.libvirt.driver", "Instance destroyed successfully.", ctx="[-]")
        self.log(rng.uniform(0.5, 0.8), "INFO", "nova.virt.libvirt.driver",
                 f"Deleting instance files /var/lib/nova/instances/{self.id}_del")
        self.log(0.001, "INFO", "nova.virt.libvirt.driver",
                 f"Deletion of /var/lib/nova/instances/{self.id}_del complete")
        self.log(0.12, "INFO", "nova.compute.manager",
                 f"Took {rng.uniform(0.6, 1.2):.2f} seconds to destroy the instance on the hypervisor.")
        self.log(rng.uniform(0.3, 0.6), "INFO", "nova.compute.manager",
                 f"Took {rng.uniform(0.3, 0.6):.2f} seconds to deallocate network for instance.")
        self.lifecycle_event(rng.uniform(10, 16), "Stopped")
        sim.used_ram = max(512, sim.used_ram - self.mem)
        sim.used_vcpus = max(0, sim.used_vcpus - self.vcpus)

    # -- failures ----------------------------------------------------------------------------
    def cleanup_after_failure(self, reason: str) -> None:
        rng = self.sim.rng
        self.log(0.01, "INFO", "nova.compute.manager", "Terminating instance", anomaly=True)
        self.log(0.2, "INFO", "nova.virt.libvirt.driver", "Instance destroyed successfully.", ctx="[-]", anomaly=True)
        self.log(0.3, "INFO", "nova.compute.manager", "Deallocating network for instance", anomaly=True)
        self.log(rng.uniform(0.3, 0.6), "INFO", "nova.compute.manager",
                 f"Took {rng.uniform(0.3, 0.6):.2f} seconds to deallocate network for instance.", anomaly=True)
        self.log(0.05, "ERROR", "nova.compute.manager", f"Build of instance {self.id} aborted: {reason}", anomaly=True)

    def fail_spawn_timeout(self) -> None:
        self.lifecycle_event(self.sim.rng.uniform(6, 14), "Started")
        self.lifecycle_event(0.06, "Paused")
        self.log(300.0, "ERROR", "nova.compute.manager", "Instance failed to spawn", anomaly=True)
        self.traceback("nova.compute.manager", (
            '  File "/usr/lib/python2.7/dist-packages/nova/compute/manager.py", line 2078, in _build_resources',
            "    yield resources",
            '  File "/usr/lib/python2.7/dist-packages/nova/virt/libvirt/driver.py", line 2777, in spawn',
            "    block_device_info=block_device_info)",
        ), "Timeout: Timed out waiting for a reply to message ID 5a8b0d21c3e44b3f9a6c")
        self.cleanup_after_failure("Timed out waiting for the instance to boot")

    def fail_vif_plugging(self) -> None:
        self.lifecycle_event(self.sim.rng.uniform(6, 14), "Started")
        self.lifecycle_event(0.06, "Paused")
        self.log(300.0, "WARNING", "nova.virt.libvirt.driver",
                 "Timeout waiting for vif plugging callback for instance with vm_state building and task_state spawning.",
                 anomaly=True)
        self.log(0.1, "ERROR", "nova.compute.manager", "Instance failed to spawn", anomaly=True)
        self.traceback("nova.compute.manager", (
            '  File "/usr/lib/python2.7/dist-packages/nova/virt/libvirt/driver.py", line 4910, in _create_domain_and_network',
            "    raise exception.VirtualInterfaceCreateException()",
        ), "VirtualInterfaceCreateException: Virtual Interface creation failed")
        self.cleanup_after_failure("Virtual Interface creation failed")

    def fail_auth(self) -> None:
        sim = self.sim
        sim.emit(self.t + 0.2, "api", "WARNING", "keystonemiddleware.auth_token", sim.user_ctx(self.req),
                 "Authorization failed for token", anomaly=self.incident)
        self.log(0.3, "ERROR", "nova.compute.manager", "Instance failed network setup after 1 attempt(s)",
                 anomaly=True)
        self.traceback("nova.compute.manager", (
            '  File "/usr/lib/python2.7/dist-packages/nova/compute/manager.py", line 1401, in _allocate_network_async',
            "    bind_host_id=bind_host_id)",
            '  File "/usr/lib/python2.7/dist-packages/nova/network/neutronv2/api.py", line 881, in allocate_for_instance',
            "    raise exceptions.Unauthorized()",
        ), "Unauthorized: The request you have made requires authentication. (HTTP 401)")
        self.cleanup_after_failure("Failed to allocate the network(s), not rescheduling.")

    def fail_disk_full(self) -> None:
        sim = self.sim
        self.log(0.5, "ERROR", "nova.virt.libvirt.imagebackend",
                 f"Failed to create image for instance: No space left on device: '{sim.base_file}.part'", anomaly=True)
        self.traceback("nova.compute.manager", (
            '  File "/usr/lib/python2.7/dist-packages/nova/virt/libvirt/imagebackend.py", line 219, in cache',
            "    *args, **kwargs)",
        ), "IOError: [Errno 28] No space left on device")
        # The host's periodic tasks then complain on every run: a warning storm.
        for k in range(12):
            sim.emit(self.t + 2.0 + 5.0 * k, "compute", "WARNING", "nova.compute.resource_tracker",
                     sim.sys_ctx(sim.periodic_req),
                     f"Host {sim.host} has insufficient disk: free_disk_gb=-{3 + k} used_disk={18 + k}GB",
                     anomaly=self.incident, session_hint=sim.periodic_req)
        self.cleanup_after_failure("Insufficient free disk space on host")

    def fail_unexpected_shutdown(self) -> None:
        """Subtle: every line is INFO/WARNING and well-formed; only the sequence is wrong."""
        self.lifecycle_event(self.sim.rng.uniform(20, 90), "Stopped", anomaly=True)
        self.log(0.2, "WARNING", "nova.compute.manager",
                 "During _sync_instance_power_state the DB power_state (1) does not match the vm_power_state from "
                 "the hypervisor (4). Updating power_state in the DB to match the hypervisor.",
                 ctx=self.sim.sys_ctx(self.sim.lifecycle_req), anomaly=True)
        self.log(0.05, "WARNING", "nova.compute.manager",
                 "Instance shutdown by itself. Calling the stop API. Current vm_state: active, current task_state: "
                 "None, original DB power_state: 1, current VM power_state: 4",
                 ctx=self.sim.sys_ctx(self.sim.lifecycle_req), anomaly=True)
        self.log(0.3, "INFO", "nova.compute.manager", "Instance is already powered off in the hypervisor when stop is called.",
                 anomaly=True)
        self.delete()


# -- the host's background ------------------------------------------------------------------
def _periodic_tasks(sim: _Sim, end: float, noise: float) -> None:
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
                 host: str = "cp-1.slowvm1.tcloud-pg0.utah.cloudlab.us") -> GeneratedLog:
    """Generate a nova log: ``n_instances`` VM lifecycles, host noise, and the given incidents.

    Deterministic for a given seed. Incidents are placed on instances spread evenly through
    the log (never the first few, so a monitor has seen normal traffic before them).
    """
    unknown = [k for k in incidents if k not in INCIDENT_KINDS]
    if unknown:
        raise ValueError(f"unknown incident kind(s) {unknown}; known: {', '.join(INCIDENT_KINDS)}")
    rng = random.Random(seed)
    sim = _Sim(rng, datetime.strptime(start, "%Y-%m-%d %H:%M:%S"), host)
    placed = {int((i + 1) * n_instances / (len(incidents) + 1)): kind for i, kind in enumerate(incidents)}
    t = 1.0
    for i in range(n_instances):
        _Instance(sim, t, placed.get(i)).run()
        t += rng.expovariate(1 / 8.0)
    _periodic_tasks(sim, max(e.t for e in sim.events) + 1.0 if sim.events else 60.0, noise)
    return _finish(sim)


def _finish(sim: _Sim) -> GeneratedLog:
    keyer = SessionKeyer(None)
    lines: list[str] = []
    sessions: dict[str, str] = {}
    found: dict[tuple[str, str], Incident] = {}
    while sim.events:
        event = heapq.heappop(sim.events)
        lines.append(event.line)
        key = keyer.key(event.line, "generated")
        if event.anomaly is None:
            sessions.setdefault(key, "Normal")
            continue
        sessions[key] = "Anomaly"
        if (event.anomaly, key) not in found:
            ts = " ".join(event.line.split(" ", 3)[1:3])
            found[(event.anomaly, key)] = Incident(event.anomaly, key, len(lines), ts)
    return GeneratedLog(lines, sessions, sorted(found.values(), key=lambda i: i.first_line))


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


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m logwatch.core.generator OUT_DIR   (writes the bundled sample logs)", file=sys.stderr)
        return 2
    write_sample_logs(args[0], progress=print)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
