"""The smtplib side of scripts/bench mail: the same message bytes, envelope and certificate check
as `invoiceflow mail bench`, COUNT times over one SMTP_SSL connection."""
import argparse
import smtplib
import ssl
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--ca", required=True)
parser.add_argument("--message", required=True)
parser.add_argument("--count", type=int, required=True)
parser.add_argument("--sender", required=True)
parser.add_argument("--to", required=True)
options = parser.parse_args()

message = open(options.message, "rb").read()
context = ssl.create_default_context(cafile=options.ca)  # verifies the chain and the host name
context.minimum_version = ssl.TLSVersion.TLSv1_2
start = time.perf_counter()
with smtplib.SMTP_SSL("localhost", options.port, context=context) as client:
    for _ in range(options.count):
        refused = client.sendmail(options.sender, [options.to], message)
        if refused:
            raise SystemExit("refused: %r" % refused)
elapsed = time.perf_counter() - start
print("smtplib: %d messages (%d bytes each) in %.3f s" % (options.count, len(message), elapsed))
print("smtplib msg/s: %.1f" % (options.count / elapsed))
