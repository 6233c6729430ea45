"""containerd: the daemon (server.py), its record store and its services
(services/: containers, tasks, images, events). It starts one shim per task
(busybox_engine.shim) and talks to it over msgpack-RPC; it imports nothing
of the personalities or the CLIs."""
