# Test helper run as a child process: a proxyless (xDS-enabled) gRPC C-core server (Debian python3-grpcio) replying `py-server`.
#
# The parent sets GRPC_XDS_BOOTSTRAP (with server_listener_resource_name_template) and passes the
# address to listen on, `127.0.0.1:PORT`, as argv[1]. Its credentials come from xDS (mTLS when the
# listener carries a DownstreamTlsContext, gRFC A29), plaintext otherwise; the listener's RBAC
# filters (gRFC A41) decide which calls it serves. Prints `serving PORT` once started.
import sys
from concurrent.futures import ThreadPoolExecutor

import grpc


def say_hello(_request, _context):
    # HelloReply {string message = 1}.
    return b"\x0a\x09py-server"


handler = grpc.method_handlers_generic_handler(
    "helloworld.Greeter",
    {"SayHello": grpc.unary_unary_rpc_method_handler(say_hello)},
)
server = grpc.server(ThreadPoolExecutor(max_workers=8), xds=True)
server.add_generic_rpc_handlers((handler,))
# grpcio 1.51 returns -1 for an xDS server's port (it binds once its listener arrives): say the one asked for.
server.add_secure_port(sys.argv[1], grpc.xds_server_credentials(grpc.insecure_server_credentials()))
server.start()
sys.stdout.write("serving %s\n" % sys.argv[1].rsplit(":", 1)[1])
sys.stdout.flush()
try:
    # Until the parent closes stdin or sends SIGTERM (the default action ends the process).
    sys.stdin.read()
finally:
    server.stop(0)
