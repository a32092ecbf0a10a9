"""A tiny SMTP server for the integration tests (standard library only).

Accepts every mail on 127.0.0.1 and writes each to DIR as <uuid>.eml, with the
envelope beside it as <uuid>.json. Usage: smtp_server.py DIR PORT (0 picks a free
port). Prints "ready PORT" once it listens; runs until killed.
"""

import json
import os
import sys
import uuid
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore
    import smtpd


class Sink(smtpd.SMTPServer):
    def __init__(self, directory, port):
        super().__init__(("127.0.0.1", port), None, decode_data=False)
        self.directory = directory

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        name = uuid.uuid4().hex
        envelope = {"mail_from": mailfrom, "rcpt_tos": rcpttos}
        for suffix, content in ((".json", json.dumps(envelope).encode()), (".eml", data)):
            partial = os.path.join(self.directory, "." + name + suffix)
            with open(partial, "wb") as f:
                f.write(content)
            os.rename(partial, os.path.join(self.directory, name + suffix))
        return None  # 250 OK


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    server = Sink(directory, port)
    print("ready", server.socket.getsockname()[1], flush=True)
    asyncore.loop(timeout=0.2)


if __name__ == "__main__":
    main()
