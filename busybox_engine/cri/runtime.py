"""RuntimeService calls about the runtime itself: Version, Status,
RuntimeConfig, UpdateRuntimeConfig."""
import json

from busybox_engine import __version__
from busybox_engine.cri import cri_api_pb2 as pb
from busybox_engine.cri.cni import NoNetwork, load_network

API_VERSION = "v1"


class RuntimeInfo:
    def __init__(self, config):
        self.config = config
        self.pod_cidr = ""

    async def Version(self, request):
        # "0.1.0" is the kubelet runtime API version every CRI runtime reports
        return pb.VersionResponse(version="0.1.0", runtime_name="busybox-engine",
                                  runtime_version=__version__, runtime_api_version=API_VERSION)

    def network_status(self) -> tuple:
        """(ready, error text) of the CNI configuration."""
        try:
            load_network(self.config.cni_conf_dir)
        except NoNetwork as e:
            return False, str(e)
        return True, ""

    async def Status(self, request):
        ready, problem = self.network_status()
        network = pb.RuntimeCondition(type="NetworkReady", status=ready)
        if not ready:
            # containerd's words, which kubelet shows in the node's condition
            network.reason = "NetworkPluginNotReady"
            network.message = "Network plugin returns error: cni plugin not initialized"
        reply = pb.StatusResponse(status=pb.RuntimeStatus(conditions=[
            pb.RuntimeCondition(type="RuntimeReady", status=True), network]))
        reply.runtime_handlers.add(name="", features=pb.RuntimeHandlerFeatures(recursive_read_only_mounts=True))
        reply.runtime_handlers.add(name="runc", features=pb.RuntimeHandlerFeatures(recursive_read_only_mounts=True))
        if request.verbose:
            reply.info["config"] = json.dumps(self.config.describe())
            reply.info["lastCNILoadStatus"] = "OK" if ready else problem
            reply.info["podCIDR"] = json.dumps(self.pod_cidr)
        return reply

    async def RuntimeConfig(self, request):
        return pb.RuntimeConfigResponse(linux=pb.LinuxRuntimeConfiguration(cgroup_driver=pb.CGROUPFS))

    async def UpdateRuntimeConfig(self, request):
        # kubelet tells the node's pod CIDR; a CNI config of the node's own
        # (host-local ranges) decides the addresses, as with containerd
        # when it has no config template
        self.pod_cidr = request.runtime_config.network_config.pod_cidr
        return pb.UpdateRuntimeConfigResponse()
