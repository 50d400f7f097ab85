#!/usr/bin/env python3
"""The Python side of the mail benchmark: the same messages as mailbench, built with the
email package and sent with smtplib over one reused, verified implicit-TLS connection.
Usage: smtplib_send.py PORT CA_FILE COUNT BODY_FILE [nodelay]; prints
"smtplib: COUNT messages in S s, R msg/s". With "nodelay" the socket gets TCP_NODELAY, which
stock smtplib does not set: that separates Nagle's algorithm from the rest of the difference."""
import smtplib
import socket
import ssl
import sys
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

port, ca_file, count, body_file = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
nodelay = sys.argv[5:] == ["nodelay"]
body = open(body_file, encoding="utf-8").read()


def message(number):
    msg = EmailMessage()
    msg["Date"] = formatdate()
    msg["From"] = Address("InvoiceFlow — уведомления", addr_spec="noreply@invoiceflow.test")
    msg["To"] = Address("Иванов Иван Петрович", addr_spec="ivan@example.test")
    msg["Subject"] = "Согласуйте счёт №INV-2026-%d на 1 234 567,89 ₽ от ООО «Ромашка»" % number
    msg["Message-ID"] = "<bench-%d@invoiceflow.test>" % number
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    msg.add_alternative("<pre>%s</pre>" % body, subtype="html")
    return msg


context = ssl.create_default_context(cafile=ca_file)
with smtplib.SMTP_SSL("localhost", port, context=context, timeout=60) as smtp:
    if nodelay:
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    smtp.send_message(message(0))  # connect and handshake outside the timed loop
    started = time.monotonic()
    for number in range(1, count + 1):
        smtp.send_message(message(number))
    seconds = time.monotonic() - started
print("smtplib%s: %d messages in %.2f s, %.1f msg/s" % (" (TCP_NODELAY)" if nodelay else "", count, seconds, count / seconds))
