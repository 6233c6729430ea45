"""Containers of pods: CreateContainer, StartContainer, StopContainer,
RemoveContainer, ListContainers, ContainerStatus, UpdateContainerResources,
ReopenContainerLog, ExecSync.

Each is a containerd container (namespace k8s.io) on a snapshot of its
image; its task runs from StartContainer until it exits, then goes (its
shim with it), and the exit is kept in the CRI record
(ROOT/cri_containers/k8s.io/ID.json) for kubelet to read, as containerd's
CRI plugin keeps it. The shim writes the log in the CRI format."""
import asyncio
import json
import os
import signal
import sys
import time

from busybox_engine.cri import NAMESPACE
from busybox_engine.cri import cri_api_pb2 as pb
from busybox_engine.cri.pods import RecordSet, decode, encode, labels_match
from busybox_engine.cri.spec import KIND, container_spec, resources, stop_signal
from busybox_engine.rpc.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

KINDS = "cri_containers"
STATES = {"created": pb.CONTAINER_CREATED, "running": pb.CONTAINER_RUNNING, "exited": pb.CONTAINER_EXITED,
          "unknown": pb.CONTAINER_UNKNOWN}
EXEC_OUTPUT_CAP = 16 << 20   # ExecSync keeps this much of each stream (CVE-2022-1708)


def _own_oom_score_adj() -> int:
    try:
        with open("/proc/self/oom_score_adj") as f:
            return int(f.read())
    except (OSError, ValueError):
        return -1000


class Containers(RecordSet):
    KIND, WHAT = KINDS, "container"

    def __init__(self, config, store, containers, tasks, images, pods):
        self.config = config
        self.store = store
        self.containers = containers
        self.tasks = tasks
        self.images = images
        self.pods = pods
        pods.ctrs = self
        self.watchers = {}   # cid: the task that waits for its exit, then deletes its task
        self.exits = {}      # cid: a future done once its exit is in the record
        self.early = {}      # cid: the task making its containerd task ahead of StartContainer
        self.locks = {}

    def of_sandbox(self, sid: str) -> list:
        return [r for r in self.records() if r["sandbox_id"] == sid]

    def event(self, record: dict, kind: int) -> None:
        if self.pods.events is not None:
            self.pods.events.publish(record["id"], record["sandbox_id"], kind)

    # --- create / start ----------------------------------------------------------------

    async def CreateContainer(self, request):
        config = request.config
        if not config.metadata.name:
            raise InvalidArgument("container config must include metadata")
        sandbox = self.pods.get(request.pod_sandbox_id)
        sid = sandbox["id"]
        if sandbox["state"] != "ready":
            raise FailedPrecondition(f"sandbox {sid!r} is not ready: it cannot run containers")
        sconfig = decode(pb.PodSandboxConfig, sandbox["config"])
        smd = sconfig.metadata
        name = "_".join([config.metadata.name, smd.name, smd.namespace, smd.uid, str(config.metadata.attempt)])
        for r in self.records():
            if r["name"] == name:
                raise AlreadyExists(f"failed to reserve container name {name!r}: name {name!r} is reserved "
                                    f"for {r['id']!r}")
        loop = asyncio.get_running_loop()
        image = await loop.run_in_executor(None, self.images.resolve, config.image.image)
        if image is None:
            raise NotFound(f"failed to get image {config.image.image!r}: not found")
        cid = os.urandom(32).hex()
        target_pid = 0
        ns_opts = config.linux.security_context.namespace_options
        if ns_opts.pid == pb.TARGET:
            target = self.get(ns_opts.target_id)
            target_pid = target.get("pid", 0) if target["state"] == "running" else 0
        spec, user = container_spec(cid, sid, config, sconfig, image["config"], config.image.image,
                                    sandbox["pid"], sandbox["netns"], sandbox["dir"], target_pid,
                                    _own_oom_score_adj())
        if user:
            from busybox_engine.containerd.services.tasks import USER_ANNOTATION
            spec["annotations"][USER_ANNOTATION] = user
        log_path = ""
        if sconfig.log_directory and config.log_path:
            log_path = os.path.join(sconfig.log_directory, config.log_path)
        repo_digest = image["digests"][0] if image["digests"] else ""
        record = {"id": cid, "sandbox_id": sid, "name": name, "config": encode(config),
                  "image_id": image["id"], "image_ref": repo_digest or image["id"],
                  "image_name": config.image.image, "created_at": time.time_ns(), "started_at": 0,
                  "finished_at": 0, "exit_code": 0, "reason": "", "message": "", "log_path": log_path,
                  "state": "created", "pid": 0, "stop_signal": stop_signal(config, image["config"])}
        self.store.create(KINDS, NAMESPACE, cid, record)
        try:
            await self.containers.create(cid, spec, image=image["names"][0], namespace=NAMESPACE,
                                         labels={KIND: "container"})
        except BaseException:
            self.store.delete(KINDS, NAMESPACE, cid)
            raise
        self.event(record, pb.CONTAINER_CREATED_EVENT)
        # The task (its shim, `runc create`) is made now, while the reply goes
        # out and the client comes back with StartContainer: kubelet and
        # crictl always do. StartContainer then only waits for what is left.
        self.early[cid] = asyncio.get_running_loop().create_task(self._create_task(record, config))
        return pb.CreateContainerResponse(container_id=cid)

    async def _create_task(self, record: dict, config) -> dict:
        return await self.tasks.create(record["id"], NAMESPACE, stdin=config.stdin, terminal=config.tty,
                                       log_path=record["log_path"], log_format="cri")

    async def _settle_early(self, cid: str, errors: bool = True) -> dict | None:
        """The result of the task made ahead (None: none was begun); its
        error is raised, or ignored with errors=False."""
        early = self.early.pop(cid, None)
        if early is None:
            return None
        try:
            return await early
        except Exception:
            if errors:
                raise
            return None

    async def StartContainer(self, request):
        record = self.get(request.container_id)
        cid = record["id"]
        async with self.lock(cid):
            record = self.get(cid)
            if record["state"] != "created":
                raise FailedPrecondition(f"container {cid!r} is in {record['state']} state, not created")
            sandbox = self.pods.get(record["sandbox_id"])
            if sandbox["state"] != "ready":
                raise FailedPrecondition(f"sandbox {sandbox['id']!r} is not ready")
            config = decode(pb.ContainerConfig, record["config"])
            try:
                r = await self._settle_early(cid)
                if r is None:
                    if self.tasks.has_task(NAMESPACE, cid):   # made before a restart of ours
                        r = await self.tasks.state(cid, NAMESPACE)
                    else:
                        r = await self._create_task(record, config)
                await self.tasks.start(cid, NAMESPACE)
            except Exception as e:
                if self.tasks.has_task(NAMESPACE, cid):
                    try:
                        await self.tasks.delete(cid, NAMESPACE, force=True)
                    except Exception:   # noqa: BLE001 - the start's error is the one to tell
                        pass
                record.update(state="exited", finished_at=time.time_ns(), exit_code=128, reason="StartError",
                              message=str(getattr(e, "message", "") or e))
                self.save(record)
                raise
            record.update(state="running", started_at=time.time_ns(), pid=r["pid"])
            self.save(record)
            self.event(record, pb.CONTAINER_STARTED_EVENT)
            self.watch(record)
        return pb.StartContainerResponse()

    # --- exits -------------------------------------------------------------------------

    def watch(self, record: dict) -> None:
        cid = record["id"]
        if cid in self.watchers:
            return
        loop = asyncio.get_running_loop()
        self.exits[cid] = loop.create_future()
        self.watchers[cid] = loop.create_task(self._wait(cid))

    async def _wait(self, cid: str) -> None:
        """The exit goes into the record (and ends a stop's wait) before
        the task is deleted: `runc delete` and the shim's end are not
        part of what StopContainer waits for."""
        try:
            await self._record_exit(cid)
        finally:
            done = self.exits.pop(cid, None)
            if done is not None and not done.done():
                done.set_result(None)
        try:
            await self.tasks.delete(cid, NAMESPACE, force=True)
        except Exception as e:  # noqa: BLE001
            if not isinstance(e, NotFound):
                sys.stderr.write(f"containerd: CRI: deleting the task of {cid}: {e}\n")
        self.watchers.pop(cid, None)

    async def _record_exit(self, cid: str) -> None:
        exit_status, exited_at = 255, 0
        try:
            r = await self.tasks.wait(cid, NAMESPACE)
            exit_status = r.get("exit_status", 255)
            from busybox_engine.util.timefmt import parse_rfc3339
            exited_at = int(parse_rfc3339(r.get("exited_at") or "") * 1e9)
        except Exception:  # noqa: BLE001 - the task is gone without a word: unknown exit
            pass
        oom = self._oom_killed(cid)
        try:
            record = self.store.get(KINDS, NAMESPACE, cid)
        except NotFound:
            return
        if record["state"] == "running":
            reason = "OOMKilled" if oom else ("Completed" if exit_status == 0 else "Error")
            record.update(state="exited", finished_at=exited_at or time.time_ns(), exit_code=exit_status,
                          reason=reason, pid=0)
            self.save(record)
            self.event(record, pb.CONTAINER_STOPPED_EVENT)

    def _oom_killed(self, cid: str) -> bool:
        """Did the memory cgroup kill in this container (v1 oom_control, v2 memory.events)?"""
        try:
            spec = self.containers.get(cid, NAMESPACE)["spec"]
        except NotFound:
            return False
        path = spec["linux"].get("cgroupsPath") or ""
        for f, key in ((f"/sys/fs/cgroup/memory{path}/memory.oom_control", "oom_kill"),
                       (f"/sys/fs/cgroup{path}/memory.events", "oom_kill")):
            try:
                with open(f) as fh:
                    for line in fh:
                        k, _, v = line.partition(" ")
                        if k == key and int(v) > 0:
                            return True
            except (OSError, ValueError):
                continue
        return False

    # --- stop / remove -----------------------------------------------------------------

    async def stop(self, cid: str, timeout: int) -> None:
        record = self.get(cid)
        if record["state"] == "created":
            # a task made ahead holds a process waiting to be started: it goes
            await self._settle_early(cid, errors=False)
            if self.tasks.has_task(NAMESPACE, cid):
                try:
                    await self.tasks.delete(cid, NAMESPACE, force=True)
                except NotFound:
                    pass
            record.update(state="exited", finished_at=time.time_ns(), exit_code=0, reason="")
            self.save(record)
            self.event(record, pb.CONTAINER_STOPPED_EVENT)
            return
        if record["state"] != "running":
            return
        if cid not in self.watchers:
            self.watch(record)
        waiter = self.exits.get(cid)
        if waiter is None:   # the exit is being recorded: the task is on its way out
            return
        if timeout > 0:
            try:
                await self.tasks.kill(cid, NAMESPACE, signal=record.get("stop_signal") or signal.SIGTERM)
            except (NotFound, FailedPrecondition):
                pass
            try:
                await asyncio.wait_for(asyncio.shield(waiter), timeout)
                return
            except asyncio.TimeoutError:
                pass
        try:
            await self.tasks.kill(cid, NAMESPACE, signal=signal.SIGKILL, all=True)
        except (NotFound, FailedPrecondition):
            pass
        try:
            await asyncio.wait_for(asyncio.shield(waiter), 30)
        except asyncio.TimeoutError:
            raise FailedPrecondition(f"container {cid!r} did not stop after SIGKILL") from None

    async def remove(self, cid: str) -> None:
        record = self.get(cid)
        if record["state"] == "running":
            await self.stop(cid, 0)
        await self._settle_early(cid, errors=False)
        watcher = self.watchers.get(cid)
        if watcher is not None:   # the exit's own task delete, still going
            await asyncio.shield(watcher)
        if self.tasks.has_task(NAMESPACE, cid):
            try:
                await self.tasks.delete(cid, NAMESPACE, force=True)
            except NotFound:
                pass
        try:
            await self.containers.delete(cid, NAMESPACE)
        except NotFound:
            pass
        self.event(record, pb.CONTAINER_DELETED_EVENT)
        try:
            self.store.delete(KINDS, NAMESPACE, cid)
        except NotFound:
            pass
        self.locks.pop(cid, None)

    async def StopContainer(self, request):
        record = self.get(request.container_id)
        async with self.lock(record["id"]):
            await self.stop(record["id"], request.timeout)
        return pb.StopContainerResponse()

    async def RemoveContainer(self, request):
        try:
            record = self.get(request.container_id)
        except NotFound:
            return pb.RemoveContainerResponse()   # removed already: idempotent
        async with self.lock(record["id"]):
            await self.remove(record["id"])
        return pb.RemoveContainerResponse()

    # --- status ------------------------------------------------------------------------

    def _message(self, r: dict) -> "pb.Container":
        config = decode(pb.ContainerConfig, r["config"])
        return pb.Container(id=r["id"], pod_sandbox_id=r["sandbox_id"], metadata=config.metadata,
                            image=pb.ImageSpec(image=r["image_name"], annotations=config.image.annotations,
                                               user_specified_image=config.image.image),
                            image_ref=r["image_ref"], image_id=r["image_id"], state=STATES[r["state"]],
                            created_at=r["created_at"], labels=config.labels, annotations=config.annotations)

    async def ListContainers(self, request):
        f = request.filter
        out = []
        for r in self.records():
            if f.id and not r["id"].startswith(f.id):
                continue
            if f.pod_sandbox_id and not r["sandbox_id"].startswith(f.pod_sandbox_id):
                continue
            if f.HasField("state") and STATES[r["state"]] != f.state.state:
                continue
            c = self._message(r)
            if not labels_match(c.labels, f.label_selector):
                continue
            out.append(c)
        return pb.ListContainersResponse(containers=out)

    def status_message(self, r: dict) -> "pb.ContainerStatus":
        config = decode(pb.ContainerConfig, r["config"])
        st = pb.ContainerStatus(id=r["id"], metadata=config.metadata, state=STATES[r["state"]],
                                created_at=r["created_at"], started_at=r["started_at"],
                                finished_at=r["finished_at"], exit_code=r["exit_code"],
                                image=pb.ImageSpec(image=r["image_name"], annotations=config.image.annotations,
                                                   user_specified_image=config.image.image),
                                image_ref=r["image_ref"], image_id=r["image_id"], reason=r["reason"],
                                message=r["message"], labels=config.labels, annotations=config.annotations,
                                mounts=config.mounts, log_path=r["log_path"])
        st.resources.linux.CopyFrom(config.linux.resources)
        try:
            spec = self.containers.get(r["id"], NAMESPACE)["spec"]
            user = spec["process"].get("user") or {}
            st.user.linux.uid = user.get("uid", 0)
            st.user.linux.gid = user.get("gid", 0)
            st.user.linux.supplemental_groups.extend(user.get("additionalGids") or [])
        except (NotFound, KeyError):
            pass
        return st

    async def ContainerStatus(self, request):
        r = self.get(request.container_id)
        reply = pb.ContainerStatusResponse(status=self.status_message(r))
        if request.verbose:
            from google.protobuf.json_format import MessageToDict
            info = {"sandboxID": r["sandbox_id"], "pid": r["pid"], "removing": False,
                    "snapshotKey": r["id"], "snapshotter": "overlayfs", "runtimeType": "io.containerd.runc.v2",
                    "config": MessageToDict(decode(pb.ContainerConfig, r["config"]))}
            try:
                info["runtimeSpec"] = self.containers.get(r["id"], NAMESPACE)["spec"]
            except NotFound:
                pass
            reply.info["info"] = json.dumps(info)
        return reply

    # --- update, logs ------------------------------------------------------------------

    async def UpdateContainerResources(self, request):
        r = self.get(request.container_id)
        res, oom = resources(request.linux, _own_oom_score_adj())
        if r["state"] == "created":
            await self._settle_early(r["id"], errors=False)
        if r["state"] == "running" or self.tasks.has_task(NAMESPACE, r["id"]):
            await self.tasks.update(r["id"], res, NAMESPACE)
        elif r["state"] != "created":
            raise FailedPrecondition(f"container {r['id']!r} is not running or created")
        # the new limits stay with the container: a restart of it keeps them
        config = decode(pb.ContainerConfig, r["config"])
        config.linux.resources.CopyFrom(request.linux)
        r["config"] = encode(config)
        self.save(r)
        if r["state"] == "created":
            c = self.containers.get(r["id"], NAMESPACE)
            spec = c["spec"]
            spec["linux"].setdefault("resources", {}).update(res)
            if oom is not None:
                spec["process"]["oomScoreAdj"] = oom
            self.containers.update(r["id"], NAMESPACE, spec=spec)
        return pb.UpdateContainerResourcesResponse()

    async def ReopenContainerLog(self, request):
        r = self.get(request.container_id)
        if r["state"] != "running":
            raise FailedPrecondition(f"container {r['id']!r} is not running")
        await self.tasks.reopen_log(r["id"], NAMESPACE)
        return pb.ReopenContainerLogResponse()

    # --- exec --------------------------------------------------------------------------

    async def ExecSync(self, request):
        r = self.get(request.container_id)
        if r["state"] != "running":
            raise FailedPrecondition(f"container {r['id']!r} is not running")
        if not request.cmd:
            raise InvalidArgument("cmd is required")
        stdout, stderr, code = await self.exec_capture(r["id"], list(request.cmd), request.timeout)
        return pb.ExecSyncResponse(stdout=stdout, stderr=stderr, exit_code=code)

    async def exec_capture(self, cid: str, cmd: list, timeout: int) -> tuple:
        """Run cmd in the container; (stdout, stderr, exit code), each stream
        cut at 16 MiB. A timeout (seconds, 0: none) kills it."""
        exec_id, sock = await open_exec(self.tasks, self.containers, cid, cmd)
        try:
            loop = asyncio.get_running_loop()
            try:
                await self.tasks.start(cid, NAMESPACE, exec_id=exec_id)
                reader = loop.create_task(_demux(loop, sock))
                try:
                    result = await asyncio.wait_for(self.tasks.wait(cid, NAMESPACE, exec_id=exec_id),
                                                    timeout or None)
                except asyncio.TimeoutError:
                    try:
                        await self.tasks.kill(cid, NAMESPACE, signal=signal.SIGKILL, exec_id=exec_id)
                    except (NotFound, FailedPrecondition):
                        pass
                    reader.cancel()
                    from grpclib.const import Status
                    from grpclib.exceptions import GRPCError
                    raise GRPCError(Status.DEADLINE_EXCEEDED,
                                    f"command {cmd!r} timed out after {timeout}s") from None
                out, err = await asyncio.wait_for(reader, 10)
            finally:
                sock.close()
        finally:
            try:
                await self.tasks.delete(cid, NAMESPACE, exec_id=exec_id, force=True)
            except Exception:   # noqa: BLE001 - the exec is over either way
                pass
        return out, err, result.get("exit_status", 0)

    # --- restart -----------------------------------------------------------------------

    async def recover(self) -> None:
        for r in self.records():
            if r["state"] != "running":
                continue
            if self.tasks.has_task(NAMESPACE, r["id"]):
                self.watch(r)
            else:
                r.update(state="exited", finished_at=time.time_ns(), exit_code=255, reason="Unknown",
                         message="the container's task was lost", pid=0)
                self.save(r)


async def open_exec(tasks, containers, cid: str, cmd: list, tty: bool = False, stdin: bool = False) -> tuple:
    """(exec id, socket): cmd added to the container's task with its
    process settings, its stdio attached (framed unless tty), not started;
    the caller starts it and deletes it."""
    spec = containers.get(cid, NAMESPACE)["spec"]
    process = dict(spec["process"], args=cmd, terminal=tty)
    if not tty:
        process.pop("consoleSize", None)
    exec_id = "exec-" + os.urandom(8).hex()
    await tasks.exec(cid, exec_id, process, NAMESPACE, stdin=stdin, terminal=tty)
    try:
        _, sock = await tasks.open_stream(cid, NAMESPACE, exec_id, stdin=stdin, close_stdin=True)
    except BaseException:
        try:
            await tasks.delete(cid, NAMESPACE, exec_id=exec_id, force=True)
        except Exception:   # noqa: BLE001 - the attach's error is the one to tell
            pass
        raise
    return exec_id, sock


async def _demux(loop, sock) -> tuple:
    """stdout and stderr from a stream framed as Docker's attach streams,
    each kept to EXEC_OUTPUT_CAP."""
    from busybox_engine.api.streams import split_frames
    out, err = bytearray(), bytearray()
    buf = b""
    while True:
        chunk = await loop.sock_recv(sock, 1 << 16)
        if not chunk:
            break
        frames, buf = split_frames(buf + chunk)
        for kind, data in frames:
            target = err if kind == 2 else out
            target += data[:max(0, EXEC_OUTPUT_CAP - len(target))]
    return bytes(out), bytes(err)
