import Foundation
import Logging

/// One SMTP connection to the relay, driven synchronously on the client's I/O thread: greeting,
/// EHLO, TLS, AUTH, then any number of mail transactions. Every wait has a deadline from
/// `SMTPTimeouts`; every failure is classified where it happens.
final class SMTPSession {
    private let configuration: SMTPConfiguration
    private let logger: Logger
    private let socket: SocketStream
    private var stream: any ByteStream
    private var parser = SMTPReplyParser()
    private(set) var capabilities = SMTPCapabilities()
    private(set) var isEncrypted = false
    /// The connection can no longer be used (lost, timed out, 421, protocol error).
    private(set) var isBroken = false
    /// A transaction failed after MAIL FROM; RSET before the next (RFC 5321 §4.1.1.5).
    var needsReset = false
    var messagesSent = 0
    var lastUsed = ContinuousClock.now
    /// The flag of the attempt currently using the session.
    var cancellation: CancellationFlag {
        get { socket.cancellation }
        set { socket.cancellation = newValue }
    }

    /// Connects, reads the greeting, says EHLO, sets up TLS as configured and authenticates.
    init(
        configuration: SMTPConfiguration, tlsContext: TLSContext?, logger: Logger, cancellation: CancellationFlag
    ) throws(DeliveryFailure) {
        self.configuration = configuration
        self.logger = logger
        let timeouts = configuration.timeouts
        do {
            socket = try SocketStream.connect(
                host: configuration.host, port: configuration.port,
                deadline: .now + timeouts.connect, cancellation: cancellation)
        } catch {
            throw Self.failure(error, in: .connect, "cannot connect to \(configuration.relayDescription)")
        }
        stream = socket
        if configuration.security == .implicitTLS { try startTLSSession(tlsContext) }
        let greeting = try readReply(in: .greeting, deadline: .now + timeouts.greeting)
        guard greeting.code == 220 else { throw refusal(greeting, in: .greeting, "the relay refused the session") }
        try hello()
        if configuration.security == .startTLS { try upgradeWithSTARTTLS(tlsContext) }
        if let credentials = configuration.credentials { try authenticate(credentials) }
        logger.debug(
            "SMTP session open",
            metadata: ["smtp.relay": "\(configuration.relayDescription)", "smtp.tls": "\(isEncrypted)"])
    }

    // MARK: Session set-up

    private func hello() throws(DeliveryFailure) {
        // The name goes into a command line: only a host name or an address literal may.
        let name = configuration.clientName
        let isLiteral =
            name.hasPrefix("[") && name.hasSuffix("]") && TLSStream.isIPAddress(String(name.dropFirst().dropLast()))
        guard EmailAddress.isHostName(name) || isLiteral else {
            throw DeliveryFailure(.configuration, .ehlo, "the EHLO name \(name.debugDescription) is not a host name")
        }
        let deadline = ContinuousClock.now + configuration.timeouts.command
        let reply = try command("EHLO \(configuration.clientName)", in: .ehlo, deadline: deadline)
        if reply.code == 250 {
            capabilities = SMTPCapabilities(ehloReply: reply)
            return
        }
        // HELO has no extensions, so it is only good enough when TLS is not wanted anyway.
        guard configuration.security == .plaintext, reply.code >= 500 else {
            throw refusal(reply, in: .ehlo, "the relay refused EHLO")
        }
        let helo = try command("HELO \(configuration.clientName)", in: .ehlo, deadline: deadline)
        guard helo.code == 250 else { throw refusal(helo, in: .ehlo, "the relay refused HELO") }
        capabilities = SMTPCapabilities()
    }

    private func upgradeWithSTARTTLS(_ tlsContext: TLSContext?) throws(DeliveryFailure) {
        guard capabilities.startTLS else {
            throw DeliveryFailure(
                .configuration, .tls, "the relay does not offer STARTTLS; refusing to continue in plaintext")
        }
        let reply = try command("STARTTLS", in: .tls, deadline: .now + configuration.timeouts.command)
        guard reply.code == 220 else { throw refusal(reply, in: .tls, "the relay refused STARTTLS") }
        // Anything after the 220 was sent in plaintext by someone who wants it read as coming
        // from inside TLS (RFC 3207 §4; CVE-2011-0411).
        if parser.hasUnconsumedBytes || socket.hasPendingBytes() {
            isBroken = true
            throw DeliveryFailure(
                .configuration, .tls, "plaintext bytes followed the 220 reply to STARTTLS; possible injection")
        }
        try startTLSSession(tlsContext)
        parser = SMTPReplyParser()
        capabilities = SMTPCapabilities()  // forget everything learned in plaintext
        try hello()
    }

    private func startTLSSession(_ tlsContext: TLSContext?) throws(DeliveryFailure) {
        guard let tlsContext else { throw DeliveryFailure(.configuration, .tls, "no TLS context configured") }
        do {
            let tls = try TLSStream(
                context: tlsContext, socket: socket, host: configuration.host,
                deadline: .now + configuration.timeouts.tlsHandshake)
            stream = tls
            isEncrypted = true
            logger.debug("TLS established", metadata: ["smtp.tls_version": "\(tls.protocolVersion)"])
        } catch {
            isBroken = true
            throw Self.failure(error, in: .tls, "TLS handshake with \(configuration.relayDescription) failed")
        }
    }

    private func authenticate(_ credentials: SMTPCredentials) throws(DeliveryFailure) {
        guard isEncrypted else {
            throw DeliveryFailure(.configuration, .authentication, "refusing to send credentials without TLS")
        }
        let mechanisms = capabilities.authenticationMechanisms
        let deadline = ContinuousClock.now + configuration.timeouts.command
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        let reply: SMTPReply
        if mechanisms.contains("PLAIN") {
            let token = base64("\0\(credentials.user)\0\(credentials.password)")
            reply = try command("AUTH PLAIN \(token)", in: .authentication, deadline: deadline, secret: true)
        } else if mechanisms.contains("LOGIN") {
            let start = try command("AUTH LOGIN", in: .authentication, deadline: deadline)
            guard start.code == 334 else { throw refusal(start, in: .authentication, "the relay refused AUTH LOGIN") }
            let user = try command(base64(credentials.user), in: .authentication, deadline: deadline, secret: true)
            guard user.code == 334 else { throw refusal(user, in: .authentication, "the relay refused the user name") }
            reply = try command(base64(credentials.password), in: .authentication, deadline: deadline, secret: true)
        } else {
            let offered = mechanisms.isEmpty ? "none" : mechanisms.sorted().joined(separator: " ")
            throw DeliveryFailure(
                .configuration, .authentication, "no common AUTH mechanism (offered: \(offered); we speak PLAIN, LOGIN)"
            )
        }
        guard reply.code == 235 else { throw refusal(reply, in: .authentication, "authentication failed") }
    }

    // MARK: Transactions

    /// Runs one mail transaction and returns the 2xx reply to the final dot.
    func send(_ message: RenderedMessage) throws(DeliveryFailure) -> SMTPReply {
        let timeouts = configuration.timeouts
        if let limit = capabilities.maximumMessageSize, limit > 0, message.bytes.count > limit {
            throw DeliveryFailure(
                .permanent, .message,
                "the message has \(message.bytes.count) octets; the relay accepts at most \(limit)")
        }
        var parameters = ""
        if capabilities.maximumMessageSize != nil { parameters += " SIZE=\(message.bytes.count)" }
        if message.bytes.contains(where: { $0 >= 0x80 }) {
            guard capabilities.eightBitMIME else {
                throw DeliveryFailure(.permanent, .message, "the message is 8-bit and the relay lacks 8BITMIME")
            }
            parameters += " BODY=8BITMIME"
        }
        guard !message.envelope.recipients.isEmpty else {
            throw DeliveryFailure(.permanent, .message, "the envelope has no recipients")
        }
        lastUsed = .now
        let commands =
            ["MAIL FROM:<\(message.envelope.sender)>\(parameters)"]
            + message.envelope.recipients.map { "RCPT TO:<\($0)>" } + ["DATA"]
        let replies: [SMTPReply]
        if capabilities.pipelining {
            // RFC 2920: one write for the whole envelope and DATA, then the replies in order.
            let deadline = ContinuousClock.now + timeouts.envelope
            try write(Array(commands.map { $0 + "\r\n" }.joined().utf8), in: .mailFrom, deadline: deadline)
            needsReset = true
            var received: [SMTPReply] = []
            for index in commands.indices {
                received.append(try readReply(in: Self.phase(ofCommand: index, of: commands.count), deadline: deadline))
            }
            replies = received
        } else {
            var received: [SMTPReply] = []
            for (index, line) in commands.enumerated() {
                let phase = Self.phase(ofCommand: index, of: commands.count)
                let deadline = ContinuousClock.now + (phase == .data ? timeouts.dataInitiation : timeouts.envelope)
                let reply = try command(line, in: phase, deadline: deadline)
                received.append(reply)
                needsReset = true
                if reply.replyClass != .positiveCompletion { break }
            }
            replies = received
        }
        if let refused = replies.dropLast().firstIndex(where: { $0.replyClass != .positiveCompletion })
            ?? (replies.count < commands.count ? replies.count - 1 : nil)
        {
            if replies.count == commands.count && replies.last?.code == 354 {
                // A pipelined DATA was accepted although part of the envelope was not. A lone
                // "." (RFC 2920 §3.1) would deliver an empty message to the accepted recipients,
                // so abandon the connection instead: the server then drops the transaction.
                isBroken = true
            }
            let phase = Self.phase(ofCommand: refused, of: commands.count)
            let what = refused == 0 ? "sender refused" : "recipient \(commands[refused].dropFirst(8)) refused"
            throw refusal(replies[refused], in: phase, what)
        }
        guard let data = replies.last, data.code == 354 else {
            throw refusal(replies[replies.count - 1], in: .data, "DATA refused")
        }
        let content = DotStuffing.encode(message.bytes)
        let blockSize = 65536
        var offset = 0
        while offset < content.count {
            let end = min(offset + blockSize, content.count)
            try write(Array(content[offset..<end]), in: .data, deadline: .now + timeouts.dataBlock)
            offset = end
        }
        let final = try readReply(in: .finalDot, deadline: .now + timeouts.finalDot)
        lastUsed = .now
        guard final.replyClass == .positiveCompletion else { throw refusal(final, in: .finalDot, "message refused") }
        needsReset = false
        messagesSent += 1
        return final
    }

    /// MAIL FROM is command 0, DATA the last, RCPT TO those in between.
    static func phase(ofCommand index: Int, of count: Int) -> SMTPPhase {
        index == 0 ? .mailFrom : index == count - 1 ? .data : .recipient
    }

    /// RSET after a failed transaction.
    func reset() throws(DeliveryFailure) {
        let reply = try command("RSET", in: .reuse, deadline: .now + configuration.timeouts.command)
        guard reply.code == 250 else { throw refusal(reply, in: .reuse, "RSET refused") }
        needsReset = false
    }

    /// NOOP to find out whether an idle connection still works.
    func probe() throws(DeliveryFailure) {
        let reply = try command("NOOP", in: .reuse, deadline: .now + configuration.timeouts.command)
        guard reply.code == 250 else { throw refusal(reply, in: .reuse, "NOOP refused") }
    }

    /// QUIT politely but briefly; the connection is closed afterwards whatever the answer.
    func quit() {
        guard !isBroken else { return }
        isBroken = true
        _ = try? command("QUIT", in: .reuse, deadline: .now + min(configuration.timeouts.command, .seconds(5)))
    }

    // MARK: Wire

    private func command(
        _ line: String, in phase: SMTPPhase, deadline: ContinuousClock.Instant, secret: Bool = false
    ) throws(DeliveryFailure) -> SMTPReply {
        logger.trace("SMTP command", metadata: ["smtp.command": "\(secret ? "(credentials)" : line)"])
        try write(Array((line + "\r\n").utf8), in: phase, deadline: deadline)
        return try readReply(in: phase, deadline: deadline)
    }

    private func write(_ bytes: [UInt8], in phase: SMTPPhase, deadline: ContinuousClock.Instant) throws(DeliveryFailure)
    {
        do {
            try stream.write(bytes, deadline: deadline)
        } catch {
            isBroken = true
            throw Self.failure(error, in: phase, "writing to \(configuration.relayDescription) failed")
        }
    }

    private func readReply(in phase: SMTPPhase, deadline: ContinuousClock.Instant) throws(DeliveryFailure) -> SMTPReply
    {
        do {
            while true {
                if let reply = try parser.nextReply() {
                    logger.trace("SMTP reply", metadata: ["smtp.reply": "\(reply)"])
                    // 421: the server is closing the channel (RFC 5321 §3.8).
                    if reply.code == 421 { isBroken = true }
                    return reply
                }
                do {
                    parser.feed(try stream.read(deadline: deadline))
                } catch {
                    isBroken = true
                    throw Self.failure(error, in: phase, "no reply from \(configuration.relayDescription)")
                }
            }
        } catch let malformed as MalformedReply {
            isBroken = true
            let kind: DeliveryOutcome.Kind = phase == .finalDot ? .unknownAfterFinalDot : .transient
            throw DeliveryFailure(kind, phase, "\(malformed)")
        } catch let failure as DeliveryFailure {
            throw failure
        } catch {
            throw DeliveryFailure(.transient, phase, "\(error)")
        }
    }

    /// A negative reply as a failure; for set-up phases a 5xx means no message can ever go.
    private func refusal(_ reply: SMTPReply, in phase: SMTPPhase, _ detail: String) -> DeliveryFailure {
        guard reply.code >= 400 else {
            // A positive reply where another was due: the dialogue is out of step, so the
            // connection cannot be trusted any more.
            isBroken = true
            return DeliveryFailure(.transient, phase, reply: reply, "\(detail): unexpected reply \(reply.code)")
        }
        let setUp: Set<SMTPPhase> = [.greeting, .ehlo, .tls, .authentication]
        if setUp.contains(phase) && reply.code >= 500 {
            return DeliveryFailure(.configuration, phase, reply: reply, detail)
        }
        return DeliveryFailure.rejected(reply, in: phase, detail)
    }

    /// A stream failure as a delivery failure: lost connections and timeouts are transient,
    /// except after the final dot (outcome unknown) and for certificates (configuration).
    static func failure(_ error: StreamFailure, in phase: SMTPPhase, _ context: String) -> DeliveryFailure {
        let reason: String
        switch error {
        case .certificateRejected(let text): return DeliveryFailure(.configuration, phase, "\(context): \(text)")
        case .failed(let text) where phase == .tls:
            return DeliveryFailure(.configuration, phase, "\(context): \(text)")
        case .timedOut: reason = "timed out"
        case .cancelled: reason = "cancelled"
        case .closed(let text), .failed(let text): reason = text
        }
        let kind: DeliveryOutcome.Kind = phase == .finalDot ? .unknownAfterFinalDot : .transient
        return DeliveryFailure(kind, phase, "\(context): \(reason)")
    }
}
