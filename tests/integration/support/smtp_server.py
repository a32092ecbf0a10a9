"""A tiny SMTP server for the integration tests (standard library only).

Accepts every mail on 127.0.0.1 and writes each to DIR as <uuid>.eml, with the
envelope beside it as <uuid>.json. Usage: smtp_server.py DIR PORT [HOLD] (port 0
picks a free one; HOLD seconds pass between writing a mail and answering 250, as a
slow server's would: a sender may die or lose its database in between). Prints
"ready PORT" once it listens; runs until killed.
"""

import json
import os
import sys
import time
import uuid
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore
    import smtpd


class Sink(smtpd.SMTPServer):
    def __init__(self, directory, port, hold):
        super().__init__(("127.0.0.1", port), None, decode_data=False)
        self.directory = directory
        self.hold = hold

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        name = uuid.uuid4().hex
        envelope = {"mail_from": mailfrom, "rcpt_tos": rcpttos}
        for suffix, content in ((".json", json.dumps(envelope).encode()), (".eml", data)):
            partial = os.path.join(self.directory, "." + name + suffix)
            with open(partial, "wb") as f:
                f.write(content)
            os.rename(partial, os.path.join(self.directory, name + suffix))
        time.sleep(self.hold)
        return None  # 250 OK


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    hold = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    server = Sink(directory, port, hold)
    print("ready", server.socket.getsockname()[1], flush=True)
    asyncore.loop(timeout=0.2)


if __name__ == "__main__":
    main()
