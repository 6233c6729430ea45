"""`runc exec`: one more process in a running container's namespaces and
cgroups, set up like the container's own process (user, caps, rlimits)."""
import os

from busybox_engine.core_pyx import ns
from busybox_engine.runtime import spec as specmod, state
from busybox_engine.runtime.cgroups import manager_for
from busybox_engine.runtime.errors import RuntimeFailure, WrongState
from busybox_engine.runtime.sync import pair

# joined in this order; pid is joined by the parent (it applies to children)
JOIN_ORDER = ("user", "ipc", "uts", "network", "cgroup", "time", "mount")


def join_paths(container: state.Container) -> list:
    """[(type, /proc/PID/ns/X)] for each namespace the container has of its own."""
    out = []
    for kind in JOIN_ORDER:
        flag, proc_name = ns.TYPES[kind]
        path = f"/proc/{container.pid}/ns/{proc_name}"
        try:
            if os.stat(path).st_ino == os.stat(f"/proc/self/ns/{proc_name}").st_ino:
                continue  # shared with us: nothing to join
        except FileNotFoundError:
            continue  # the kernel lacks this namespace type
        out.append((kind, path))
    return out


def execute(container: state.Container, process: dict, *, detach: bool = False,
            pid_file: str | None = None, console_socket: str | None = None,
            preserve_fds: int = 0, ignore_paused: bool = False, sub_cgroups: dict | None = None) -> int:
    """Start process in the container; its exit status, or 0 with detach.
    ignore_paused: into a paused container too (it runs once resumed);
    sub_cgroups: {controller: path below the container's cgroup} to put
    it in instead ("" for every controller)."""
    status = container.status()
    if status == "stopped":
        raise WrongState("cannot exec in a stopped container")
    if status == "paused" and not ignore_paused:
        raise WrongState("cannot exec in a paused container (use --ignore-paused to override)")
    specmod.validate_process(process, "process")
    if process.get("terminal") and not console_socket and detach:
        raise RuntimeFailure("cannot allocate tty if runc will detach without setting console socket")
    manager = manager_for(container)
    if sub_cgroups:
        from busybox_engine.runtime.cgroups import with_sub_cgroups
        manager = type(manager)(with_sub_cgroups(manager.paths, sub_cgroups, manager.mode == "v2"))
    joins = join_paths(container)
    seccomp_filter = None
    profile = (container.spec.get("linux") or {}).get("seccomp")
    if profile:
        from busybox_engine.runtime import seccomp
        seccomp_filter = seccomp.build(profile)
    agent = None
    if seccomp_filter is not None and seccomp_filter.notify:
        agent = seccomp.Agent(profile, dict(container.oci_state(), status="running"))
    relay = None
    if process.get("terminal") and not console_socket and not detach:
        # no one to hand the pty to: we keep it and relay our stdio, as run does
        from busybox_engine.runtime.console import Relay
        relay = Relay()
    chan, child_chan = pair()
    console_fd = -1
    if relay is not None:
        console_fd = relay.child_end
    elif console_socket:
        import socket
        csock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            csock.connect(console_socket)
        except OSError as e:
            csock.close()
            raise RuntimeFailure(f"connect console socket `{console_socket}`: {e.strerror}") from None
        console_fd = csock.detach()
    from busybox_engine.runtime import init
    from busybox_engine.runtime.container import ChildNamespaces
    with ChildNamespaces() as children:
        children.join("pid", f"/proc/{container.pid}/ns/pid")
        child = ns.clone_fork(0)
        if child == 0:
            from busybox_engine.util.procs import run_child
            chan.close()
            run_child(init.exec_in, child_chan, container.spec, process, joins, console_fd, preserve_fds,
                      seccomp_filter, agent)
    child_chan.close()
    if agent is not None:
        agent.close()   # the child's copy is the one that talks to it
    if console_fd >= 0 and relay is None:
        os.close(console_fd)
    try:
        try:
            manager.add(child)
        except OSError as e:
            # runc's wording, with Go's lower-case errno text
            text = e.strerror or str(e)
            if e.errno:
                text = text.replace(os.strerror(e.errno), os.strerror(e.errno).lower())
            raise RuntimeFailure(f"unable to start container process: error adding pid {child} "
                                 f"to cgroups: {text}") from None
        chan.send("go", pid=child)
        msg = chan.recv()
        if msg is None or msg.get("type") != "ready":
            raise RuntimeFailure((msg or {}).get("message") or "exec failed: the process exited early")
        # the pipe closes on a successful execve; a message means it failed
        msg = chan.recv()
        if msg is not None:
            raise RuntimeFailure(msg.get("message") or "exec failed")
    except BaseException:
        try:
            os.kill(child, 9)
        except ProcessLookupError:
            pass
        os.waitpid(child, 0)
        if relay is not None:
            relay.close()
        raise
    finally:
        chan.close()
    if relay is not None:
        relay.receive_master()   # sent before ready: it is there
    if pid_file:
        from busybox_engine.runtime.container import write_pid_file
        write_pid_file(pid_file, child)
    if detach:
        return 0
    if relay is not None:
        return relay.relay_until_exit(child)
    while True:
        try:
            _, st = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    from busybox_engine.util.procs import exit_code
    return exit_code(st)
