# Test helper run as a child process: a proxyless gRPC C-core (Debian python3-grpcio) Greeter client driven over stdin/stdout.
#
# The same protocol as grpc-xds-client-child.ts: the parent sets GRPC_XDS_BOOTSTRAP and passes the
# target as argv[1] (argv[2] `insecure`: a plaintext-only channel, else xDS credentials, which are
# mTLS when the cluster says so, gRFC A29, and plaintext otherwise); each stdin line is a JSON batch {"calls": N, "headers": {...}}; the answer is one
# stdout line of JSON counting replies by server name and failures as "error:<code>". The messages
# (test/fixtures/greeter.proto: one string field each) are encoded by hand: no generated code needed.
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import grpc
import grpc.experimental


def encode_request(name):
    data = name.encode()
    return b"\x0a" + bytes([len(data)]) + data


def decode_reply(data):
    # HelloReply {string message = 1}: tag 0x0a, a one-byte length (names are short), the text.
    if len(data) < 2 or data[0] != 0x0A:
        return ""
    return data[2 : 2 + data[1]].decode()


if len(sys.argv) > 2 and sys.argv[2] == "insecure":
    channel = grpc.insecure_channel(sys.argv[1])
else:
    fallback = grpc.experimental.insecure_channel_credentials()
    channel = grpc.secure_channel(sys.argv[1], grpc.xds_channel_credentials(fallback))
say_hello = channel.unary_unary(
    "/helloworld.Greeter/SayHello",
    request_serializer=encode_request,
    response_deserializer=decode_reply,
)


def call(headers):
    try:
        return say_hello("test", metadata=list(headers.items()), timeout=10)
    except grpc.RpcError as err:
        return "error:%d" % err.code().value[0]


with ThreadPoolExecutor(max_workers=8) as pool:
    for line in sys.stdin:
        if not line.strip():
            continue
        batch = json.loads(line)
        counts = {}
        headers = batch.get("headers") or {}
        for outcome in pool.map(lambda _: call(headers), range(batch["calls"])):
            counts[outcome] = counts.get(outcome, 0) + 1
        sys.stdout.write(json.dumps(counts) + "\n")
        sys.stdout.flush()
channel.close()
