import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real SMTP server for tests: `scripts/smtp-test-server.py` (aiosmtpd) started as a child
/// process on a free loopback port, with certificates from `scripts/make-test-ca`. Each
/// delivered message lands as an `.eml` file that `decode` reads with Python's own email parser.
public final class SMTPTestServer {
    /// How the server behaves; every option maps to a flag of the script.
    public struct Options: Sendable {
        /// TLS mode of the listener.
        public enum TLSMode: String, Sendable {
            /// TLS from the first byte (port-465 style).
            case implicit
            /// STARTTLS offered and required before MAIL.
            case startTLS = "starttls"
            /// No TLS and no STARTTLS offered.
            case none
        }

        /// TLS mode.
        public var tls: TLSMode = .startTLS
        /// A fixed loopback port, for a relay that comes back where it was; nil for a free one.
        public var port: Int?
        /// Which certificate the server presents, from the test PKI.
        public var certificate: TestCertificate = .trusted
        /// Require AUTH with `SMTPTestServer.user` / `SMTPTestServer.password`.
        public var requireAuthentication = false
        /// Offer AUTH before TLS too.
        public var offerAuthenticationOverPlaintext = false
        /// Offer AUTH LOGIN only, not PLAIN.
        public var offerOnlyLoginAuthentication = false
        /// Answer the final dot of the first N messages with 451 4.3.0.
        public var temporaryFailures = 0
        /// Answer RCPT TO for this address with 550 5.1.1.
        public var rejectedRecipient: String?
        /// Store the first N messages, then drop the connection without replying to the dot.
        public var dropsAfterFinalDot = 0
        /// Answer STARTTLS with 220 plus injected plaintext replies.
        public var injectAfterSTARTTLS = false
        /// Advertise SIZE with this limit.
        public var maximumMessageSize: Int?
        /// Answer DATA with 354 and drop the connection at once.
        public var closeDuringData = false
        /// Advertise PIPELINING.
        public var pipelining = false
        /// Close connections silent for this many seconds, without a reply (aiosmtpd's timeout).
        public var idleTimeout: Double?
        /// Store each message, then wait this many seconds before replying to the final dot.
        public var slowFinalDot: Double?

        /// The default: STARTTLS with a trusted certificate, no AUTH, no faults.
        public init() {}
    }

    /// The server certificates the test PKI holds.
    public enum TestCertificate: String, Sendable {
        /// For localhost and 127.0.0.1, signed by the test CA.
        case trusted = "server"
        /// Signed by the test CA, but for wrong.example.
        case wrongHost = "wrong"
        /// For localhost, signed by a CA the client does not trust.
        case untrustedIssuer = "untrusted"
    }

    /// One delivered message as Python's `email` package decodes it.
    public struct DecodedMessage: Sendable, Decodable {
        /// The decoded Subject.
        public let subject: String
        /// The decoded From display name.
        public let fromName: String
        /// The From address.
        public let fromAddress: String
        /// The decoded To display names (RFC 2047 §6.2 decoding).
        public let toNames: [String]
        /// The To display names as `policy.default` decodes them, which keeps the white space
        /// between adjacent encoded words.
        public let toNamesDefaultPolicy: [String]
        /// The To addresses.
        public let toAddresses: [String]
        /// The Message-ID header as sent.
        public let messageID: String
        /// The Date header as sent.
        public let date: String
        /// The Auto-Submitted header.
        public let autoSubmitted: String?
        /// The decoded text/plain part.
        public let text: String
        /// The decoded text/html part, if any.
        public let html: String?
        /// Python's parser complaints, empty for a clean message.
        public let defects: [String]
        /// The longest line of the raw message, CRLF excluded.
        public let longestLine: Int
        /// Whether the raw message has a CR or LF that is not part of CRLF.
        public let hasBareLineEnds: Bool
        /// Whether the raw message is 7-bit.
        public let isSevenBit: Bool
        /// Envelope and session facts recorded by the server.
        public let envelope: Envelope

        /// What the server saw outside the message.
        public struct Envelope: Sendable, Decodable {
            /// MAIL FROM address.
            public let mailFrom: String
            /// RCPT TO addresses.
            public let recipients: [String]
            /// MAIL FROM parameters such as SIZE=n.
            public let mailOptions: [String]
            /// Whether the session was encrypted.
            public let tls: Bool
            /// Whether the client authenticated.
            public let authenticated: Bool
            /// The client's source port: equal ports mean one reused connection.
            public let peerPort: Int
        }
    }

    /// The only login the server accepts.
    public static let user = "notifier"
    /// Its password.
    public static let password = "s3cret"

    /// The loopback port the server listens on.
    public let port: Int
    /// Where delivered messages are written.
    public let outputDirectory: URL
    /// The test CA certificate the client must trust.
    public let caFile: String
    /// The directory of the test PKI, which also holds an untrusted CA.
    public let pkiDirectory: String
    private let process: Process

    /// The package root, found from this file's path.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// `INVOICEFLOW_TEST_PYTHON`, or the package's `.venv/bin/python` where aiosmtpd is installed.
    public static var python: String {
        ProcessInfo.processInfo.environment["INVOICEFLOW_TEST_PYTHON"]
            ?? packageRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// Whether the interpreter exists, so suites can skip cleanly where it was never installed.
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: python) }

    /// Starts a server with `options` and waits (up to 20 s) until it accepts connections.
    public init(_ options: Options = Options()) throws {
        let pki = try Self.testPKI()
        pkiDirectory = pki
        caFile = pki + "/ca.crt"
        outputDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("smtp-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        var arguments = [
            Self.packageRoot.appendingPathComponent("scripts/smtp-test-server.py").path,
            "--outdir", outputDirectory.path, "--tls", options.tls.rawValue,
            "--cert", "\(pki)/\(options.certificate.rawValue).crt", "--key",
            "\(pki)/\(options.certificate.rawValue).key",
        ]
        if let port = options.port { arguments += ["--port", "\(port)"] }
        if options.requireAuthentication { arguments.append("--auth") }
        if options.offerAuthenticationOverPlaintext { arguments.append("--auth-over-plaintext") }
        if options.offerOnlyLoginAuthentication { arguments.append("--auth-login-only") }
        if options.temporaryFailures > 0 { arguments += ["--tempfail-first", "\(options.temporaryFailures)"] }
        if let rejected = options.rejectedRecipient { arguments += ["--reject-recipient", rejected] }
        if options.dropsAfterFinalDot > 0 { arguments += ["--drop-after-dot-first", "\(options.dropsAfterFinalDot)"] }
        if options.injectAfterSTARTTLS { arguments.append("--inject-after-starttls") }
        if let size = options.maximumMessageSize { arguments += ["--size", "\(size)"] }
        if options.closeDuringData { arguments.append("--close-during-data") }
        if options.pipelining { arguments.append("--pipelining") }
        if let seconds = options.idleTimeout { arguments += ["--idle-timeout", "\(seconds)"] }
        if let seconds = options.slowFinalDot { arguments += ["--slow-final-dot", "\(seconds)"] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        port = try Self.readPort(from: output.fileHandleForReading, process: process)
    }

    deinit { stop() }

    /// Stops the server (SIGTERM, then SIGKILL after 3 s) and waits for it to exit.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The `.eml` files delivered so far, in delivery order.
    public func deliveredMessages() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: outputDirectory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "eml" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// Whether any client sent AUTH credentials to this server.
    public var authenticationAttempted: Bool {
        FileManager.default.fileExists(atPath: outputDirectory.appendingPathComponent("auth-attempted").path)
    }

    /// Decodes a delivered message with Python's `email` parser (policy.default).
    public func decode(_ file: URL) throws -> DecodedMessage {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = ["-c", Self.decoderScript, file.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONDecoder().decode(DecodedMessage.self, from: data)
    }

    /// Makes the test PKI once per process, in a temporary directory.
    public static func testPKI() throws -> String {
        try pkiLock.withLock {
            if let pkiPath { return pkiPath }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-pki-\(getpid())").path
            let process = Process()
            process.executableURL = packageRoot.appendingPathComponent("scripts/make-test-ca")
            process.arguments = [directory]
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw TestServerFailure("scripts/make-test-ca failed") }
            pkiPath = directory
            return directory
        }
    }

    private static let pkiLock = NSLock()
    nonisolated(unsafe) private static var pkiPath: String?  // guarded by pkiLock

    private static func readPort(from handle: FileHandle, process: Process) throws -> Int {
        let deadline = Date().addingTimeInterval(20)
        var text = ""
        while Date() < deadline {
            var descriptor = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 200) > 0 else {
                if !process.isRunning { break }
                continue
            }
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if let line = text.split(separator: "\n").first, line.hasPrefix("port "), let port = Int(line.dropFirst(5))
            {
                return port
            }
        }
        if process.isRunning { process.terminate() }
        throw TestServerFailure("the SMTP test server did not start (is aiosmtpd installed for \(python)?)")
    }

    /// Decodes with Python's `email` package. Display names are decoded with
    /// `email.header.decode_header`, which follows RFC 2047 §6.2 (white space between adjacent
    /// encoded words is ignored); `policy.default`'s address parser keeps that white space, so its
    /// names are reported separately as `toNamesDefaultPolicy`. Text parts are returned with LF
    /// line ends.
    private static let decoderScript = #"""
        import email, email.policy, json, os, sys
        from email.header import decode_header, make_header
        from email.utils import getaddresses
        path = sys.argv[1]
        raw = open(path, "rb").read()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        legacy = email.message_from_bytes(raw)
        def part(kind):
            p = msg.get_body(preferencelist=(kind,))
            if p is None or p.get_content_type() != "text/" + kind:
                return None
            return p.get_content().replace("\r\n", "\n")
        def names(field):
            return [str(make_header(decode_header(n))) for n, a in getaddresses(legacy.get_all(field, []))]
        frm = msg["From"].addresses[0]
        to = msg["To"].addresses
        lines = raw.split(b"\r\n")
        facts = json.load(open(path[:-4] + ".json"))
        defects = [repr(d) for d in msg.defects] + [repr(d) for p in msg.walk() for d in p.defects]
        for name in msg.keys():
            defects += [repr(d) for d in msg[name].defects]
        json.dump({
            "subject": msg["Subject"], "fromName": names("From")[0], "fromAddress": frm.addr_spec,
            "toNames": names("To"), "toNamesDefaultPolicy": [a.display_name for a in to],
            "toAddresses": [a.addr_spec for a in to],
            "messageID": msg["Message-ID"], "date": msg["Date"], "autoSubmitted": msg["Auto-Submitted"],
            "text": part("plain"), "html": part("html"), "defects": defects,
            "longestLine": max(len(l) for l in lines),
            "hasBareLineEnds": any(b"\r" in l or b"\n" in l for l in lines),
            "isSevenBit": all(b < 128 for b in raw),
            "envelope": {"mailFrom": facts["mail_from"], "recipients": facts["rcpt_tos"],
                         "mailOptions": facts["mail_options"], "tls": facts["tls"],
                         "authenticated": facts["authenticated"], "peerPort": facts["peer_port"]},
        }, sys.stdout)
        """#
}

/// The SMTP test server could not be started or read.
public struct TestServerFailure: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    /// Creates a failure with a message.
    public init(_ description: String) { self.description = description }
}
