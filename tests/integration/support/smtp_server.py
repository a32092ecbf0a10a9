"""A tiny SMTP server for the integration tests (standard library only, any Python 3:
no `smtpd`/`asyncore`, which Python 3.12 removed).

Accepts every mail on 127.0.0.1 and writes each to DIR as <uuid>.eml, with the
envelope beside it as <uuid>.json. Usage: smtp_server.py DIR PORT [HOLD] (port 0
picks a free one; HOLD seconds pass between writing a mail and answering 250, as a
slow server's would: a sender may die or lose its database in between). Prints
"ready PORT" once it listens; runs until killed.
"""

import json
import os
import socketserver
import sys
import time
import uuid


class Session(socketserver.StreamRequestHandler):
    """One SMTP conversation (RFC 5321's minimum: EHLO/HELO, MAIL, RCPT, DATA, RSET,
    NOOP, QUIT), one line at a time."""

    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        self.reply("220 localhost test SMTP server")
        mail_from, rcpt_tos = None, []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            elif verb == "MAIL":
                mail_from, rcpt_tos = address(line), []
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpt_tos.append(address(line))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = self.read_data()
                if data is None:
                    return
                self.server.store(mail_from, rcpt_tos, data)
                time.sleep(self.server.hold)
                self.reply("250 OK")
                mail_from, rcpt_tos = None, []
            elif verb == "RSET":
                mail_from, rcpt_tos = None, []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")

    def read_data(self):
        """The message up to the lone dot, dot-unstuffed; None if the peer hung up."""
        lines = []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return None
            if raw in (b".\r\n", b".\n"):
                return b"".join(lines)
            if raw.startswith(b".."):
                raw = raw[1:]
            lines.append(raw)


def address(line):
    """The address between the angle brackets of a MAIL FROM / RCPT TO line."""
    start, end = line.find("<"), line.rfind(">")
    return line[start + 1 : end] if 0 <= start < end else line.split(":", 1)[-1].strip()


class Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, directory, port, hold):
        super().__init__(("127.0.0.1", port), Session)
        self.directory = directory
        self.hold = hold

    def store(self, mail_from, rcpt_tos, data):
        name = uuid.uuid4().hex
        envelope = {"mail_from": mail_from, "rcpt_tos": rcpt_tos}
        for suffix, content in ((".json", json.dumps(envelope).encode()), (".eml", data)):
            partial = os.path.join(self.directory, "." + name + suffix)
            with open(partial, "wb") as f:
                f.write(content)
            os.rename(partial, os.path.join(self.directory, name + suffix))


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    hold = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    server = Sink(directory, port, hold)
    print("ready", server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
