"""dockerd's own container records: name, Docker config, state.

One directory per container under DATA_ROOT/containers/ID holding
config.v2.json (written crash-safe: temp, fsync, rename) and the json-file
log ID-json.log, as Docker lays them out. Records are read once at start-up
and kept in memory; names are unique.
"""
import json
import os
import random
import re
import secrets
import sys

from busybox_engine.rpc.errors import AlreadyExists, InvalidArgument, NotFound
from busybox_engine.util.atomicfile import atomic_write
from busybox_engine.util.timefmt import rfc3339nano

ZERO_TIME = "0001-01-01T00:00:00Z"
NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

# random names as Docker gives them: adjective_surname
_ADJECTIVES = ("brave", "calm", "clever", "eager", "fervent", "gentle", "happy", "jolly",
               "keen", "lucid", "nifty", "quirky", "serene", "sharp", "tender", "vibrant",
               "wizardly", "zealous", "bold", "crisp", "dreamy", "frosty", "hopeful", "mellow")
_SURNAMES = ("turing", "hopper", "lovelace", "noether", "curie", "dijkstra", "knuth",
             "ritchie", "thompson", "torvalds", "hamilton", "babbage", "shannon", "liskov",
             "lamport", "perlman", "goldberg", "allen", "kay", "wirth", "backus", "hoare")


def new_state() -> dict:
    return {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
            "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME}


class Container:
    """One container's record; `data` is what config.v2.json holds."""

    def __init__(self, root: str, data: dict):
        self.root = root
        self.data = data
        self.attaching = []   # hijacked connections waiting for its start
        self.waiters = []     # futures resolved at its next exit
        self.removed = None   # future: resolved once it is gone (wait condition=removed)
        self.stopping = False  # a stop/kill from the API: no restart
        self.restart_task = None
        self.health_task = None
        self.starting = None  # future: a start under way
        self.listing = None   # (name, JSON of what `ps` shows that does not change): see routes

    @property
    def id(self) -> str:
        return self.data["ID"]

    @property
    def name(self) -> str:
        return self.data["Name"]

    @property
    def state(self) -> dict:
        return self.data["State"]

    @property
    def config(self) -> dict:
        return self.data["Config"]

    @property
    def host_config(self) -> dict:
        return self.data["HostConfig"]

    @property
    def dir(self) -> str:
        return os.path.join(self.root, self.id)

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, f"{self.id}-json.log")

    def status(self) -> str:
        return self.state["Status"]

    def save(self) -> None:
        atomic_write(os.path.join(self.dir, "config.v2.json"), json.dumps(self.data))


class ContainerStore:
    def __init__(self, root: str):
        self.root = root
        os.makedirs(root, mode=0o710, exist_ok=True)
        self.by_id = {}
        self.by_name = {}
        self.reserved = set()  # names of containers being created

    def load(self) -> None:
        for cid in os.listdir(self.root):
            path = os.path.join(self.root, cid, "config.v2.json")
            try:
                with open(path) as f:
                    data = json.load(f)
                c = Container(self.root, data)
                self.by_id[c.id] = c
                self.by_name[c.name] = c
            except FileNotFoundError:
                # a create cut off before its record: nothing of it to keep
                import shutil
                shutil.rmtree(os.path.join(self.root, cid), ignore_errors=True)
            except (OSError, ValueError, KeyError, TypeError) as e:
                sys.stderr.write(f"dockerd: skipping container {cid}: unreadable record: {e}\n")

    def all(self) -> list:
        return list(self.by_id.values())

    def get(self, ref: str) -> Container:
        """By full id, name, or unique id prefix; Docker's 404 text else."""
        if not isinstance(ref, str) or not ref:
            raise NotFound("No such container: ")
        c = self.by_id.get(ref) or self.by_name.get("/" + ref.lstrip("/"))
        if c is not None:
            return c
        found = [c for cid, c in self.by_id.items() if cid.startswith(ref)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def new_name(self) -> str:
        for _ in range(100):
            name = f"/{random.choice(_ADJECTIVES)}_{random.choice(_SURNAMES)}"
            if name not in self.by_name and name not in self.reserved:
                return name
        return f"/{random.choice(_ADJECTIVES)}_{random.choice(_SURNAMES)}{random.randrange(10**6)}"

    def reserve(self, name: str | None) -> str:
        if name:
            if not NAME.match(name):
                raise InvalidArgument(f"Invalid container name ({name}), only "
                                      "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            name = "/" + name.lstrip("/")
            if name in self.by_name or name in self.reserved:
                other = self.by_name.get(name)
                raise AlreadyExists(f'Conflict. The container name "{name}" is already in use by '
                                    f'container "{other.id if other else ""}". You have to remove '
                                    "(or rename) that container to be able to reuse that name.")
        else:
            name = self.new_name()
        self.reserved.add(name)
        return name

    def add(self, name: str, config: dict, host_config: dict, image_id: str,
            extra: dict) -> Container:
        cid = secrets.token_hex(32)
        data = {"ID": cid, "Name": name, "Created": rfc3339nano(), "Config": config,
                "HostConfig": host_config, "Image": image_id, "State": new_state(),
                "RestartCount": 0, "Driver": "overlay2", **extra}
        c = Container(self.root, data)
        os.makedirs(c.dir, mode=0o710)
        try:
            c.save()
        except BaseException:
            import shutil
            shutil.rmtree(c.dir, ignore_errors=True)
            raise
        finally:
            self.reserved.discard(name)
        self.by_id[cid] = c
        self.by_name[name] = c
        return c

    def rename(self, c: Container, new: str) -> None:
        if not NAME.match(new):
            raise InvalidArgument(f"Invalid container name ({new}), only "
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        new = "/" + new.lstrip("/")
        if new == c.name:
            raise InvalidArgument(f"Renaming a container with the same name as its current "
                                  f"name: {new.lstrip('/')}")
        if new in self.by_name or new in self.reserved:
            raise AlreadyExists(f'Conflict. The container name "{new}" is already in use by '
                                f'container "{self.by_name[new].id if new in self.by_name else ""}". '
                                "You have to remove (or rename) that container to be able to reuse that name.")
        del self.by_name[c.name]
        c.data["Name"] = new
        self.by_name[new] = c
        c.save()

    def remove(self, c: Container) -> None:
        import shutil
        self.by_id.pop(c.id, None)
        if self.by_name.get(c.name) is c:
            del self.by_name[c.name]
        # the record first: a crash midway leaves no half container behind
        try:
            os.unlink(os.path.join(c.dir, "config.v2.json"))
        except FileNotFoundError:
            pass
        shutil.rmtree(c.dir, ignore_errors=True)
