"""The runc CLI's help text (not a docstring: the compiled build strips
those); the version text is runtime/version.py's."""
USAGE = """NAME:
   runc - Open Container Initiative runtime (busybox-engine)

USAGE:
   runc [global options] command [command options] [arguments...]

COMMANDS:
   checkpoint  checkpoint a running container (not supported by this runtime)
   create      create a container
   exec        execute new process inside the container
   events      display container events such as OOM notifications, cpu, memory, and IO usage statistics
   delete      delete any resources held by the container often used with detached container
   features    show the enabled features
   kill        kill sends the specified signal (default: SIGTERM) to the container's init process
   list        lists containers started by runc with the given root
   pause       pause suspends all processes inside the container
   ps          ps displays the processes running inside a container
   restore     restore a container from a previous checkpoint (not supported by this runtime)
   resume      resumes all processes that have been previously paused
   run         create and run a container
   spec        create a new specification file
   start       executes the user defined process in a created container
   state       output the state of a container
   update      update container resource constraints

GLOBAL OPTIONS:
   --debug             enable debug logging
   --log value         set the log file to write runc logs to (default is '/dev/stderr')
   --log-format value  set the log format ('text' (default), or 'json') (default: "text")
   --root value        root directory for storage of container state (default: "/run/runc")
   --systemd-cgroup    enable systemd cgroup support
   --help, -h          show help
   --version, -v       print the version
"""
