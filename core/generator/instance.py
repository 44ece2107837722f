"""One VM instance's lifecycle, and the failures that can be injected into it."""

from __future__ import annotations

from collections.abc import Sequence

from .sim import FLAVORS, Sim


# -- one instance --------------------------------------------------------------------------
class Instance:
    def __init__(self, sim: Sim, t0: float, incident: str | None) -> None:
        self.sim, self.t, self.incident = sim, t0, incident
        self.id = sim.uuid()
        self.req = sim.req()
        self.mem, self.disk, self.vcpus = sim.rng.choice(FLAVORS)
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
        if self.incident == "no_valid_host":
            return self.fail_no_valid_host()
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
            ), "libvirtError: internal error: unable to execute QEMU command 'device_add': "
               "Duplicate ID 'virtio-disk1' for device")
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

    def fail_no_valid_host(self) -> None:
        """The build fails here and no other host is left: the story goes from nova-compute to the
        scheduler (its retry finds no host; the instance is put in ERROR), then the user deletes it."""
        sim, rng = self.sim, self.sim.rng
        self.lifecycle_event(rng.uniform(6, 14), "Started")
        self.log(1.5, "ERROR", "nova.compute.manager", "Instance failed to spawn", anomaly=True)
        self.traceback("nova.compute.manager", (
            '  File "/usr/lib/python2.7/dist-packages/nova/virt/libvirt/driver.py", line 2782, in spawn',
            "    destroy_disks_on_failure=True)",
            '  File "/usr/lib/python2.7/dist-packages/nova/virt/libvirt/driver.py", line 5056, in _create_domain',
            "    guest.launch(pause=pause)",
        ), "libvirtError: internal error: qemu unexpectedly closed the monitor")
        self.log(0.01, "INFO", "nova.compute.manager", "Terminating instance", anomaly=True)
        self.log(0.2, "INFO", "nova.virt.libvirt.driver", "Instance destroyed successfully.", ctx="[-]", anomaly=True)
        self.log(0.1, "ERROR", "nova.compute.manager",
                 f"Build of instance {self.id} was re-scheduled: internal error: qemu unexpectedly closed the monitor",
                 anomaly=True)
        ctx, t = sim.user_ctx(self.req), self.t + 0.4
        for dt, level, component, message, hint in (
                (0.0, "INFO", "nova.filters", "Filter RetryFilter returned 0 hosts", self.req),
                (0.001, "INFO", "nova.filters", f"Filtering removed all hosts for the request with instance ID "
                 f"'{self.id}'. Filter results: ['RetryFilter: (start: 1, end: 0)']", self.req),
                (0.05, "WARNING", "nova.scheduler.utils", f"{self.tag} Failed to compute_task_build_instances: No valid "
                 "host was found. There are not enough hosts available.", self.id),
                (0.051, "WARNING", "nova.scheduler.utils", f"{self.tag} Setting instance to ERROR state.", self.id)):
            sim.emit(t + dt, "scheduler", level, component, ctx, message, anomaly=self.incident, session_hint=hint)
        self.t = t + rng.uniform(20, 40)
        sim.api(self.t, "DELETE", f"/v2/{sim.tenant}/servers/{self.id}", 204)

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
