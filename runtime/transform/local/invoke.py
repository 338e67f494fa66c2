"""Runs the transform binary locally under a minimal Lambda Runtime API: serves EVENT (a Kinesis
event JSON file) as one invocation, prints the function's response, then stops the binary.

    python3 invoke.py BINARY EVENT.json

The binary gets this process's environment (set INFLUX_*, QUARANTINE_*, AWS_ENDPOINT_URL, AWS
credentials and region yourself) plus the Lambda variables below. Python stdlib only."""
import http.server
import json
import os
import subprocess
import sys
import threading
import time

binary, event_path = sys.argv[1], sys.argv[2]
event = open(event_path, "rb").read()
done = threading.Event()
result = {}


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served = False

    def log_message(self, *args):
        pass

    def do_GET(self):  # /2018-06-01/runtime/invocation/next
        if RuntimeApi.served:
            done.wait()
            time.sleep(60)
            return
        RuntimeApi.served = True
        self.send_response(200)
        for k, v in {
            "Lambda-Runtime-Aws-Request-Id": "local-0001",
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:111122223333:function:mst-local-Transform",
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            "Content-Type": "application/json",
            "Content-Length": str(len(event)),
        }.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(event)

    def do_POST(self):  # .../response or .../error
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        result["path"], result["body"] = self.path, body.decode()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        done.set()


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the binary is stopped while its next poll is open


server = Server(("127.0.0.1", 0), RuntimeApi)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(os.environ)
env.update({
    "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_port}",
    "AWS_LAMBDA_FUNCTION_NAME": "mst-local-Transform",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_STREAM_NAME": "local",
    "AWS_LAMBDA_LOG_GROUP_NAME": "local",
})
child = subprocess.Popen([binary], env=env)
finished = done.wait(60)
child.terminate()
child.wait()
if not finished:
    sys.exit("no response within 60 s")
print(f"{result['path']}: {result['body']}", file=sys.stderr)
