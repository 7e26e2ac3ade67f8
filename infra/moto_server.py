"""Serve moto (DynamoDB, Streams, SES v2, EventBridge, SQS) on a free loopback port,
ONE REQUEST AT A TIME.

moto's default threaded server breaks the atomicity of concurrent TransactWriteItems
(measured: 11 debits of 100 accepted on a balance of 1,000), so requests are served by a
single thread, the way DynamoDB serialises writes per item.

Prints the port on the first line of stdout, then serves until stdin closes (the test
process that started it exited) or it is killed.

usage: moto_server.py [port] [--until-killed]   (port 0 or none: a free one)
"""

import os
import sys
import threading

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    port = int(args[0]) if args else 0
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, threaded=False, processes=1)
    print(server.port, flush=True)

    def exit_when_parent_goes() -> None:
        sys.stdin.read()
        os._exit(0)

    if "--until-killed" not in sys.argv and not sys.stdin.isatty():
        threading.Thread(target=exit_when_parent_goes, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
