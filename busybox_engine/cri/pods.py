"""Pod sandboxes: RunPodSandbox, StopPodSandbox, RemovePodSandbox,
PodSandboxStatus, ListPodSandbox.

A sandbox is a pause container (namespace k8s.io, id = the sandbox id)
that holds the pod's IPC, UTS and PID namespaces, a network namespace
pinned under the state directory and set up by CNI, and a directory with
the pod's /etc/hosts, /etc/resolv.conf, /etc/hostname and /dev/shm. Its
record (ROOT/sandboxes/k8s.io/ID.json) outlives containerd, so a restarted
one finds every pod with the same id, state and IP."""
import asyncio
import base64
import json
import os
import shutil
import sys
import time

from busybox_engine.cri import NAMESPACE, cni, netns
from busybox_engine.cri import cri_api_pb2 as pb
from busybox_engine.cri.spec import KIND, sandbox_spec
from busybox_engine.rpc.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

KINDS = "sandboxes"
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MNT_DETACH = 2
# host directories the pause process (this program) needs, read-only
LIB_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64")


def encode(msg) -> str:
    return base64.b64encode(msg.SerializeToString()).decode()


def decode(cls, text: str):
    return cls.FromString(base64.b64decode(text))


def find(records: list, text: str, what: str) -> dict:
    """The record whose id is text or starts with it (crictl takes short ids)."""
    if not text:
        raise InvalidArgument(f"{what} id is required")
    exact = [r for r in records if r["id"] == text]
    if exact:
        return exact[0]
    found = [r for r in records if r["id"].startswith(text)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise InvalidArgument(f"{what} id {text!r} is ambiguous")
    raise NotFound(f"an error occurred when try to find {what} {text!r}: not found")


def labels_match(labels, selector) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


class RecordSet:
    """CRI records of one kind (KIND) in containerd's store, namespace k8s.io."""
    KIND = WHAT = ""

    def records(self) -> list:
        return self.store.list(self.KIND, NAMESPACE)

    def get(self, text: str) -> dict:
        return find(self.records(), text, self.WHAT)

    def save(self, record: dict) -> None:
        self.store.put(self.KIND, NAMESPACE, record["id"], record)

    def lock(self, rid: str) -> asyncio.Lock:
        return self.locks.setdefault(rid, asyncio.Lock())


class Pods(RecordSet):
    KIND, WHAT = KINDS, "sandbox"

    def __init__(self, config, store, containers, tasks, images):
        self.config = config
        self.store = store             # containerd's metadata store
        self.containers = containers   # containerd's containers service
        self.tasks = tasks
        self.images = images           # the CRI ImageService (cri/images.py)
        self.dir = os.path.join(config.root, "cri", "sandboxes")
        self.netns_dir = os.path.join(config.state, "cri", "netns")
        self.locks = {}                # sandbox id -> asyncio.Lock
        self.ctrs = None               # cri/containers.py's Containers, set by it
        self.events = None             # cri/events.py's Events, set when wired
        self.watchers = {}
        self.checks = []               # the CNI CHECKs of pods found again after a restart

    def event(self, sid: str, kind: int) -> None:
        if self.events is not None:
            self.events.publish(sid, sid, kind)

    # --- the pause process -------------------------------------------------------------

    def pause_root(self) -> tuple:
        """(rootfs, mounts, argv, env) of our own pause: an empty read-only
        root with this program and the host's libraries bound read-only."""
        from busybox_engine.selfexec import personality_command
        exe, argv, env = personality_command("pause")
        root = os.path.join(self.config.root, "cri", "pause", "rootfs")
        sources = []
        if exe != sys.executable:   # the built program: its standalone directory
            sources.append(os.path.dirname(exe))
        else:
            sources += [sys.prefix, os.path.realpath(sys.exec_prefix)]
            top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            sources.append(top)
            sources.append(os.path.dirname(os.path.realpath(exe)))
        mounts, made = [], []
        for d in LIB_DIRS:
            if os.path.islink(d):
                link = os.path.join(root, d.lstrip("/"))
                os.makedirs(os.path.dirname(link), exist_ok=True)
                if not os.path.lexists(link):
                    os.symlink(os.readlink(d), link)
            elif os.path.isdir(d):
                sources.append(d)
        for src in sources:
            src = os.path.realpath(src)
            if src in made or any(src.startswith(m + "/") for m in made):
                continue
            made.append(src)
            os.makedirs(os.path.join(root, src.lstrip("/")), exist_ok=True)
            mounts.append({"destination": src, "type": "bind", "source": src,
                           "options": ["rbind", "rprivate", "ro", "nosuid", "nodev"]})
        for d in ("proc", "dev", "sys", "run", "etc", "tmp"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        pause_env = {k: v for k, v in (env or {}).items() if k == "PYTHONPATH"}
        # the built program takes a personality as its first argument when
        # started under its own name (args[0] is both path and argv[0] here)
        return root, mounts, argv if argv[0] == exe else [exe, "pause"], pause_env

    # --- the pod's files -------------------------------------------------------------

    def _write_files(self, sdir: str, config: "pb.PodSandboxConfig", host_network: bool, host_ipc: bool) -> None:
        os.makedirs(sdir, mode=0o711, exist_ok=True)
        hostname = os.uname().nodename if host_network else config.hostname
        with open(os.path.join(sdir, "hostname"), "w") as f:
            f.write(hostname + "\n")
        if host_network:
            shutil.copyfile("/etc/hosts", os.path.join(sdir, "hosts"))
        else:
            with open(os.path.join(sdir, "hosts"), "w") as f:
                f.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                        "ff02::2\tip6-allrouters\n")
        dns = config.dns_config
        if dns.servers or dns.searches or dns.options:
            lines = [f"search {' '.join(dns.searches)}"] if dns.searches else []
            lines += [f"nameserver {s}" for s in dns.servers]
            if dns.options:
                lines.append(f"options {' '.join(dns.options)}")
            with open(os.path.join(sdir, "resolv.conf"), "w") as f:
                f.write("\n".join(lines) + "\n")
        else:
            try:
                shutil.copyfile("/etc/resolv.conf", os.path.join(sdir, "resolv.conf"))
            except OSError:
                open(os.path.join(sdir, "resolv.conf"), "w").close()
        if not host_ipc:
            from busybox_engine.core_pyx.mounts import mount
            shm = os.path.join(sdir, "shm")
            os.makedirs(shm, exist_ok=True)
            if not os.path.ismount(shm):
                mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")

    @staticmethod
    def _unmount_shm(sdir: str) -> None:
        shm = os.path.join(sdir, "shm")
        if os.path.ismount(shm):
            from busybox_engine.core_pyx.mounts import umount2
            try:
                umount2(shm, MNT_DETACH)
            except OSError:
                pass

    # --- RuntimeService ----------------------------------------------------------------

    async def RunPodSandbox(self, request):
        config = request.config
        md = config.metadata
        if not (md.name and md.uid and md.namespace):
            raise InvalidArgument("sandbox config must include metadata with name, uid and namespace")
        if request.runtime_handler not in ("", "runc"):
            raise InvalidArgument(f"failed to get sandbox runtime: no runtime for {request.runtime_handler!r} "
                                  "is configured")
        name = "_".join([md.name, md.namespace, md.uid, str(md.attempt)])
        for r in self.records():
            if r["name"] == name:
                raise AlreadyExists(f"failed to reserve sandbox name {name!r}: name {name!r} is reserved "
                                    f"for {r['id']!r}")
        ns_opts = config.linux.security_context.namespace_options
        host_network = ns_opts.network == pb.NODE
        net = None
        if not host_network:
            try:
                net = cni.load_network(self.config.cni_conf_dir)
            except cni.NoNetwork as e:
                raise FailedPrecondition(f"failed to setup network for sandbox: cni plugin not initialized: {e}") \
                    from None
        sid = os.urandom(32).hex()
        sdir = os.path.join(self.dir, sid)
        record = {"id": sid, "name": name, "config": encode(config), "created_at": time.time_ns(),
                  "state": "notready", "netns": "", "ips": [], "cni": None, "pid": 0,
                  "runtime_handler": request.runtime_handler, "dir": sdir}
        self.store.create(KINDS, NAMESPACE, sid, record)
        async with self.lock(sid):
            try:
                self._write_files(sdir, config, host_network, ns_opts.ipc == pb.NODE)
                steps = [self._start_pause(record, config)]
                if net is not None:
                    record["netns"] = os.path.join(self.netns_dir, sid)
                    await netns.create(record["netns"])
                    record["cni"] = {"network": net, "args": self._cni_args(config, sid),
                                     "runtime": self._cni_runtime(config)}
                    self.save(record)   # what to tear down, known before it exists
                    steps.append(self._add_network(record))
                # once the netns exists, its network and the pause process need
                # nothing of each other: made side by side, runp waits for the
                # slower of the two, not for both in turn
                for outcome in await asyncio.gather(*steps, return_exceptions=True):
                    if isinstance(outcome, BaseException):
                        raise outcome
                record["state"] = "ready"
                self.save(record)
                self.event(sid, pb.CONTAINER_CREATED_EVENT)
                self.event(sid, pb.CONTAINER_STARTED_EVENT)
            except BaseException:
                await self._teardown(record)
                self._remove_files(record)
                try:
                    self.store.delete(KINDS, NAMESPACE, sid)
                except NotFound:
                    pass
                raise
        return pb.RunPodSandboxResponse(pod_sandbox_id=sid)

    async def _add_network(self, record: dict) -> None:
        """CNI ADD of the configured network in the pod's netns; its IPs."""
        c = record["cni"]
        try:
            result = await cni.add(c["network"], record["id"], record["netns"], self.config.cni_bin_dirs,
                                   args=c["args"], runtime_config=c["runtime"])
        except cni.CNIError as e:
            record["cni"] = None
            raise FailedPrecondition(f"failed to setup network for sandbox {record['id']!r}: {e}") from None
        c["result"] = result
        record["ips"] = cni.pod_ips(result)
        self.save(record)

    @staticmethod
    def _cni_args(config, sid: str) -> dict:
        md = config.metadata
        return {"K8S_POD_NAMESPACE": md.namespace, "K8S_POD_NAME": md.name,
                "K8S_POD_INFRA_CONTAINER_ID": sid, "K8S_POD_UID": md.uid}

    @staticmethod
    def _cni_runtime(config) -> dict:
        ports = [{"hostPort": p.host_port, "containerPort": p.container_port,
                  "protocol": pb.Protocol.Name(p.protocol).lower(), "hostIP": p.host_ip}
                 for p in config.port_mappings if p.host_port > 0]
        return {"portMappings": ports} if ports else {}

    async def _start_pause(self, record: dict, config) -> None:
        sid = record["id"]
        image = self.config.sandbox_image
        extra = []
        if image:
            g = await asyncio.get_running_loop().run_in_executor(None, self.images.resolve, image)
            if g is None:
                await self.images.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=image)))
                g = self.images.resolve(image)
            img = g["config"].get("config") or {}
            args = list(img.get("Entrypoint") or []) + list(img.get("Cmd") or [])
            spec = sandbox_spec(sid, config, args or ["/pause"], None, record["netns"], record["dir"],
                                "rootfs", extra)
            spec["root"]["readonly"] = True
            await self.containers.create(sid, spec, image=g["names"][0], namespace=NAMESPACE,
                                         labels={KIND: "sandbox"})
        else:
            root, mounts, argv, env = await asyncio.get_running_loop().run_in_executor(None, self.pause_root)
            spec = sandbox_spec(sid, config, argv, env, record["netns"], record["dir"], root, mounts)
            await self.containers.create(sid, spec, rootfs=root, namespace=NAMESPACE, labels={KIND: "sandbox"})
        result = await self.tasks.create(sid, NAMESPACE)
        await self.tasks.start(sid, NAMESPACE)
        record["pid"] = result["pid"]
        self.watch(record)

    def watch(self, record: dict) -> None:
        """When the pause process exits, the sandbox is not ready any more."""
        sid = record["id"]
        if sid in self.watchers:
            return

        async def wait() -> None:
            try:
                await self.tasks.wait(sid, NAMESPACE)
            except Exception:   # noqa: BLE001 - no task: nothing runs to wait for
                pass
            self.watchers.pop(sid, None)
            try:
                r = self.store.get(KINDS, NAMESPACE, sid)
            except NotFound:
                return
            if r["state"] == "ready":
                r["state"] = "notready"
                self.save(r)
        self.watchers[sid] = asyncio.get_running_loop().create_task(wait())

    async def _teardown(self, record: dict) -> None:
        """Stop what runs and give back the network; safe to repeat."""
        sid = record["id"]
        if self.tasks.has_task(NAMESPACE, sid):
            try:
                await self.tasks.delete(sid, NAMESPACE, force=True)
            except NotFound:
                pass
        w = self.watchers.pop(sid, None)
        if w is not None:
            w.cancel()
        if record.get("cni"):
            c = record["cni"]
            try:
                await cni.delete(c["network"], sid, record["netns"] if os.path.exists(record["netns"]) else "",
                                 self.config.cni_bin_dirs, args=c["args"], runtime_config=c["runtime"],
                                 prev=c.get("result"))
            except cni.CNIError as e:
                sys.stderr.write(f"containerd: CRI: tearing down the network of sandbox {sid}: {e}\n")
            record["cni"] = None
        if record.get("netns"):
            netns.remove(record["netns"])
        self._unmount_shm(record["dir"])

    def _remove_files(self, record: dict) -> None:
        self._unmount_shm(record["dir"])
        shutil.rmtree(record["dir"], ignore_errors=True)

    async def StopPodSandbox(self, request):
        record = self.get(request.pod_sandbox_id)
        sid = record["id"]
        async with self.lock(sid):
            if self.ctrs is not None:
                for c in self.ctrs.of_sandbox(sid):
                    await self.ctrs.stop(c["id"], 0)
            await self._teardown(record)
            was_ready = record["state"] == "ready"
            record["state"] = "notready"
            record["pid"] = 0
            self.save(record)
            if was_ready:
                self.event(sid, pb.CONTAINER_STOPPED_EVENT)
        return pb.StopPodSandboxResponse()

    async def RemovePodSandbox(self, request):
        try:
            record = self.get(request.pod_sandbox_id)
        except NotFound:
            return pb.RemovePodSandboxResponse()   # gone already: idempotent
        sid = record["id"]
        async with self.lock(sid):
            if self.ctrs is not None:
                for c in self.ctrs.of_sandbox(sid):
                    await self.ctrs.remove(c["id"])
            await self._teardown(record)
            try:
                await self.containers.delete(sid, NAMESPACE)
            except NotFound:
                pass
            self._remove_files(record)
            self.event(sid, pb.CONTAINER_DELETED_EVENT)
            try:
                self.store.delete(KINDS, NAMESPACE, sid)
            except NotFound:
                pass
        self.locks.pop(sid, None)
        return pb.RemovePodSandboxResponse()

    # --- status ------------------------------------------------------------------------

    def _state(self, record: dict) -> int:
        return pb.SANDBOX_READY if record["state"] == "ready" else pb.SANDBOX_NOTREADY

    def status_message(self, record: dict) -> "pb.PodSandboxStatus":
        config = decode(pb.PodSandboxConfig, record["config"])
        st = pb.PodSandboxStatus(id=record["id"], metadata=config.metadata, state=self._state(record),
                                 created_at=record["created_at"], labels=config.labels,
                                 annotations=config.annotations, runtime_handler=record["runtime_handler"])
        ns_opts = config.linux.security_context.namespace_options
        st.linux.namespaces.options.CopyFrom(pb.NamespaceOption(network=ns_opts.network, pid=ns_opts.pid,
                                                                ipc=ns_opts.ipc))
        st.network.SetInParent()   # there even without an address, as containerd answers
        if record["ips"] and ns_opts.network != pb.NODE:
            st.network.ip = record["ips"][0]
            for ip in record["ips"][1:]:
                st.network.additional_ips.add(ip=ip)
        return st

    async def PodSandboxStatus(self, request):
        record = self.get(request.pod_sandbox_id)
        reply = pb.PodSandboxStatusResponse(status=self.status_message(record), timestamp=time.time_ns())
        if request.verbose:
            from google.protobuf.json_format import MessageToDict
            config = decode(pb.PodSandboxConfig, record["config"])
            info = {"pid": record["pid"], "processStatus": "running" if record["state"] == "ready" else "stopped",
                    "netNamespaceClosed": not record["netns"] or not os.path.exists(record["netns"]),
                    "image": self.config.sandbox_image or "(pause of busybox-engine)",
                    "runtimeHandler": record["runtime_handler"], "runtimeType": "io.containerd.runc.v2",
                    "config": MessageToDict(config), "netns": record["netns"],
                    "cniResult": (record.get("cni") or {}).get("result")}
            try:
                info["runtimeSpec"] = self.containers.get(record["id"], NAMESPACE)["spec"]
            except NotFound:
                pass
            reply.info["info"] = json.dumps(info)
        return reply

    async def ListPodSandbox(self, request):
        f = request.filter
        out = []
        for r in self.records():
            if f.id and not r["id"].startswith(f.id):
                continue
            if f.HasField("state") and self._state(r) != f.state.state:
                continue
            config = decode(pb.PodSandboxConfig, r["config"])
            if not labels_match(config.labels, f.label_selector):
                continue
            out.append(pb.PodSandbox(id=r["id"], metadata=config.metadata, state=self._state(r),
                                     created_at=r["created_at"], labels=config.labels,
                                     annotations=config.annotations, runtime_handler=r["runtime_handler"]))
        return pb.ListPodSandboxResponse(items=out)

    # --- restart -----------------------------------------------------------------------

    async def recover(self) -> None:
        """After a containerd restart: watch the pause processes that still
        run; a sandbox whose pause is gone is not ready."""
        for r in self.records():
            if r["state"] != "ready":
                continue
            if self.tasks.has_task(NAMESPACE, r["id"]):
                self.watch(r)
                if r.get("cni") and r["cni"].get("result"):
                    self.checks.append(asyncio.get_running_loop().create_task(self._check_network(r)))
            else:
                r["state"] = "notready"
                self.save(r)

    async def _check_network(self, record: dict) -> None:
        """CNI CHECK of a pod found again after a restart: a network that
        went while we were down is told in our log, not hidden."""
        c = record["cni"]
        try:
            await cni.check(c["network"], record["id"], record["netns"], self.config.cni_bin_dirs,
                            args=c["args"], runtime_config=c["runtime"], prev=c["result"])
        except cni.CNIError as e:
            sys.stderr.write(f"containerd: CRI: the network of sandbox {record['id']} fails its check: {e}\n")
