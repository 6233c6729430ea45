"""Runtime errors: one line for the user, named like runc's sentinels."""


class RuntimeFailure(Exception):
    """An error the runc CLI reports as one line and exit status 1."""


class ContainerNotExist(RuntimeFailure):
    pass


class ContainerExists(RuntimeFailure):
    pass


class InvalidID(RuntimeFailure):
    pass


class InvalidConfig(RuntimeFailure):
    pass


class WrongState(RuntimeFailure):
    pass
