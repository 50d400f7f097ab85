#!/usr/bin/env python3
"""A loopback SMTP server for InvoiceFlow's SMTP client tests, built on aiosmtpd.

It binds 127.0.0.1 on a free port (or --port N, to stand in for a relay that comes back), prints "port N" on stdout once it accepts
connections, and writes every delivered message as NNNN.eml (the bytes after
dot-unstuffing) plus NNNN.json (envelope, TLS and AUTH facts) into --outdir.
It stops on SIGTERM or SIGINT.

Modes (flags combine):
  --tls implicit|starttls|none   implicit TLS (port-465 style), STARTTLS offered and
                                 required before MAIL, or no STARTTLS offered at all
  --cert/--key                   server certificate (see scripts/make-test-ca)
  --auth                         AUTH PLAIN/LOGIN required; the only valid login is
                                 notifier / s3cret
  --auth-over-plaintext          also offer AUTH before TLS (to prove the client refuses)
  --auth-login-only              offer AUTH LOGIN but not PLAIN
  --tempfail-first N             answer the final dot of the first N messages with 451 4.3.0
  --reject-recipient ADDRESS     answer RCPT TO for ADDRESS with 550 5.1.1
  --drop-after-dot-first N       store the first N messages, then close the connection
                                 without replying to the final dot (RFC 1047)
  --inject-after-starttls        answer STARTTLS with 220 plus extra plaintext replies in the
                                 same write, then stay in plaintext (CVE-2011-0411 class)
  --size N                       advertise SIZE N and refuse larger messages
  --close-during-data            answer DATA with 354, then drop the connection at once, so a
                                 client writing the content hits a dead socket (EPIPE/SIGPIPE)
  --pipelining                   advertise PIPELINING (aiosmtpd reads commands in order anyway)
  --discard                      accept messages without writing them (benchmarks)
  --idle-timeout SECONDS         close a connection silent for this long (default 60)
  --slow-final-dot SECONDS       store each message, then wait this long before replying to the dot
"""

import argparse
import asyncio
import ctypes
import json
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USER = b"notifier"
PASSWORD = b"s3cret"


class Recorder:
    """The aiosmtpd handler: applies the scripted failures and stores messages."""

    def __init__(self, options):
        self.options = options
        self.messages_seen = 0
        self.stored = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.options.reject_recipient and address.lower() == self.options.reject_recipient.lower():
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.options.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server, session, envelope):
        self.messages_seen += 1
        number = self.messages_seen
        if number <= self.options.tempfail_first:
            return "451 4.3.0 Try again later"
        self.store(session, envelope)
        if self.options.slow_final_dot:
            await asyncio.sleep(self.options.slow_final_dot)
        if number <= self.options.tempfail_first + self.options.drop_after_dot_first:
            # Close without a reply: the client cannot know the message was taken.
            server.transport.abort()
            return "250 2.0.0 never seen by the client"
        return "250 2.0.0 Queued as %04d" % self.stored

    def store(self, session, envelope):
        self.stored += 1
        if self.options.discard:
            return
        base = os.path.join(self.options.outdir, "%04d" % self.stored)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        facts = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": self.options.tls == "implicit" or session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "peer_port": session.peer[1],
        }
        with open(base + ".json", "w") as f:
            json.dump(facts, f)
        os.rename(base + ".eml.tmp", base + ".eml")


def authenticate(server, session, envelope, mechanism, auth_data):
    # Leave a trace, so a test can prove a client never tried to log in.
    open(os.path.join(server.event_handler.options.outdir, "auth-attempted"), "a").close()
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD
    return AuthResult(success=ok, handled=False)


class ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP with the STARTTLS response-injection fault."""

    def __init__(self, *args, inject_after_starttls=False, close_during_data=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.inject_after_starttls = inject_after_starttls
        self.close_during_data = close_during_data

    async def smtp_DATA(self, arg):
        if not self.close_during_data:
            return await super().smtp_DATA(arg)
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        self.transport.abort()

    async def smtp_STARTTLS(self, arg):
        if not self.inject_after_starttls:
            return await super().smtp_STARTTLS(arg)
        # A man in the middle appends replies that the client must never treat as
        # coming from inside the TLS session.
        self.transport.write(b"220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 AUTH PLAIN LOGIN\r\n")


def server_context(options):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(options.cert, options.key)
    return context


async def main(options):
    os.makedirs(options.outdir, exist_ok=True)
    recorder = Recorder(options)
    tls_context = server_context(options) if options.tls != "none" else None

    def factory():
        return ScriptedSMTP(
            recorder,
            hostname="smtp.test",
            data_size_limit=options.size,
            enable_SMTPUTF8=True,
            tls_context=tls_context if options.tls == "starttls" else None,
            require_starttls=options.tls == "starttls",
            auth_required=options.auth,
            # aiosmtpd only counts STARTTLS as TLS; an implicit-TLS session is encrypted too.
            auth_require_tls=not options.auth_over_plaintext and options.tls != "implicit",
            authenticator=authenticate,
            auth_exclude_mechanism=["PLAIN"] if options.auth_login_only else None,
            inject_after_starttls=options.inject_after_starttls,
            close_during_data=options.close_during_data,
            timeout=options.idle_timeout,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory, host="127.0.0.1", port=options.port, ssl=tls_context if options.tls == "implicit" else None
    )
    port = server.sockets[0].getsockname()[1]
    print("port %d" % port, flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", choices=["implicit", "starttls", "none"], default="starttls")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth", action="store_true")
    parser.add_argument("--auth-over-plaintext", action="store_true")
    parser.add_argument("--auth-login-only", action="store_true")
    parser.add_argument("--tempfail-first", type=int, default=0)
    parser.add_argument("--reject-recipient")
    parser.add_argument("--drop-after-dot-first", type=int, default=0)
    parser.add_argument("--inject-after-starttls", action="store_true")
    parser.add_argument("--size", type=int, default=33554432)
    parser.add_argument("--close-during-data", action="store_true")
    parser.add_argument("--pipelining", action="store_true")
    parser.add_argument("--discard", action="store_true")
    parser.add_argument("--idle-timeout", type=float, default=60)
    parser.add_argument("--slow-final-dot", type=float, default=0)
    options = parser.parse_args(argv)
    if options.tls != "none" and not (options.cert and options.key):
        parser.error("--cert and --key are needed with --tls %s" % options.tls)
    return options


def die_with_parent():
    """Unblock the stop signals (a parent's thread may have blocked them, and the mask is
    inherited) and ask Linux to send SIGTERM when the test process dies."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    die_with_parent()
    asyncio.run(main(parse_arguments(sys.argv[1:])))
