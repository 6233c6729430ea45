"""A gRPC client of our own for the CRI: grpclib with the messages that
build.py generates from busybox_engine/cri/proto/cri_api.proto."""
import asyncio

from grpclib.client import Channel, UnaryUnaryMethod

from busybox_engine.cri import cri_api_pb2 as pb


def call(sock: str, method: str, **fields):
    service, name = method.split("/")
    desc = pb.DESCRIPTOR.services_by_name[service].methods_by_name[name]
    request_type, reply_type = getattr(pb, desc.input_type.name), getattr(pb, desc.output_type.name)
    request = request_type(**fields)

    async def go():
        channel = Channel(path=sock)
        try:
            return await UnaryUnaryMethod(channel, f"/runtime.v1.{service}/{name}", request_type,
                                          reply_type)(request, timeout=60)
        finally:
            channel.close()
    return asyncio.run(go())
