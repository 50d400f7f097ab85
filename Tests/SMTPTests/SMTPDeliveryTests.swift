import Foundation
import InvoiceTestSupport
import Logging
import Testing

@testable import SMTP

#if canImport(Glibc)
    import Glibc
#endif

/// Against a real SMTP server (aiosmtpd, scripts/smtp-test-server.py) with a real test CA.
/// Serialized: the test-server control blocks its thread while starting and decoding, and
/// parallel tests would starve each other's timing on a 2-core machine.
@Suite(
    "SMTP delivery against aiosmtpd", .serialized, .enabled(if: SMTPTestServer.isAvailable, "aiosmtpd venv missing"))
struct SMTPDeliveryTests {
    static let logger = Logger(label: "smtp-tests")
    static let subject = "Согласуйте счёт №INV-2026-000042 на 1 234 567,89 ₽ от ООО «Ромашка» — срок до 30 ноября"
    static let text = """
        Здравствуйте, Иван Петрович!

        Вам на согласование поступил счёт №INV-2026-000042.
        .Строка с точкой в начале
        .
        Сумма: 1 234 567,89 ₽ 💸
        """
    static let html = "<p>Здравствуйте, <b>Иван Петрович</b>!</p>\n<p>Счёт №INV-2026-000042 — 1 234 567,89 ₽</p>"
    static let senderName = "InvoiceFlow — уведомления"
    static let recipientName = "Иванов Иван Петрович (финансовый директор)"

    private func configuration(
        _ server: SMTPTestServer, scheme: String = "smtps", host: String = "localhost", credentials: Bool = true,
        query: String = "", caFile: String? = nil
    ) throws -> SMTPConfiguration {
        let login = credentials ? "\(SMTPTestServer.user):\(SMTPTestServer.password)@" : ""
        var configuration = try SMTPConfiguration(
            url: "\(scheme)://\(login)\(host):\(server.port)\(query)", caFile: caFile ?? server.caFile,
            sender: Mailbox(displayName: Self.senderName, address: "noreply@invoiceflow.test"), allowPlaintext: true)
        configuration.timeouts = .uniform(.seconds(10))
        return configuration
    }

    private func message(to address: String = "ivan@example.test", id: String = UUID().uuidString) throws
        -> RenderedMessage
    {
        try MailMessage(
            from: Mailbox(displayName: Self.senderName, address: "noreply@invoiceflow.test"),
            to: [Mailbox(displayName: Self.recipientName, address: address)], subject: Self.subject,
            textBody: Self.text, htmlBody: Self.html, messageID: MessageID("\(id)@invoiceflow.test"), date: Date()
        ).render()
    }

    @Test(
        "Implicit TLS and STARTTLS with AUTH deliver a Cyrillic message that Python decodes to the original",
        arguments: [("smtps", SMTPTestServer.Options.TLSMode.implicit), ("smtp", .startTLS)])
    func deliversCyrillic(scheme: String, mode: SMTPTestServer.Options.TLSMode) async throws {
        var options = SMTPTestServer.Options()
        options.tls = mode
        options.requireAuthentication = true
        let server = try SMTPTestServer(options)
        let client = try SMTPClient(configuration: configuration(server, scheme: scheme), logger: Self.logger)
        let rendered = try message()
        let outcome = await client.send(rendered)
        #expect(outcome.kind == .sent, "\(outcome)")
        #expect(outcome.reply?.code == 250)
        await client.close()

        let file = try #require(try server.deliveredMessages().first)
        let decoded = try server.decode(file)
        #expect(decoded.subject == Self.subject)
        #expect(decoded.fromName == Self.senderName)
        #expect(decoded.toNames == [Self.recipientName])
        // policy.default keeps the folding space between encoded words; words end after spaces,
        // so that costs at most a doubled space, never a split word.
        #expect(
            decoded.toNamesDefaultPolicy.map { $0.split(separator: " ").joined(separator: " ") } == [Self.recipientName]
        )
        #expect(decoded.toAddresses == ["ivan@example.test"])
        #expect(decoded.text == Self.text + "\n")
        #expect(decoded.html == Self.html + "\n")
        #expect(decoded.messageID == rendered.messageID.description)
        #expect(decoded.autoSubmitted == "auto-generated")
        #expect(decoded.defects.isEmpty, "\(decoded.defects)")
        #expect(decoded.longestLine <= 78)
        #expect(!decoded.hasBareLineEnds)
        #expect(decoded.isSevenBit)
        #expect(decoded.envelope.tls && decoded.envelope.authenticated)
        #expect(decoded.envelope.mailFrom == "noreply@invoiceflow.test")
        #expect(decoded.envelope.recipients == ["ivan@example.test"])
        #expect(decoded.envelope.mailOptions == ["SIZE=\(rendered.bytes.count)"])
        // What the server stored after unstuffing is exactly what we rendered.
        #expect(Array(try Data(contentsOf: file)) == rendered.bytes)
    }

    @Test("AUTH LOGIN is used when the relay does not offer PLAIN", arguments: ["s3cret", "wrong"])
    func loginMechanism(password: String) async throws {
        var options = SMTPTestServer.Options()
        options.requireAuthentication = true
        options.offerOnlyLoginAuthentication = true
        let server = try SMTPTestServer(options)
        var configuration = try configuration(server, scheme: "smtp")
        configuration.credentials = SMTPCredentials(user: SMTPTestServer.user, password: password)
        let client = try SMTPClient(configuration: configuration, logger: Self.logger)
        let outcome = await client.send(try message())
        if password == SMTPTestServer.password {
            #expect(outcome.kind == .sent, "\(outcome)")
            #expect(try server.decode(try #require(try server.deliveredMessages().first)).envelope.authenticated)
        } else {
            #expect(outcome.kind == .configuration)
            #expect(outcome.phase == .authentication)
            #expect(outcome.reply?.code == 535)
        }
    }

    @Test("Leading dots survive quoted-printable and dot-stuffing end to end")
    func leadingDots() async throws {
        let server = try SMTPTestServer()
        let client = try SMTPClient(
            configuration: configuration(server, scheme: "smtp", credentials: false), logger: Self.logger)
        let text = ".\n..\n.hidden line\nplain\n. \n"
        let rendered = try MailMessage(
            from: Mailbox(address: "noreply@invoiceflow.test"), to: [Mailbox(address: "a@example.test")],
            subject: "Dots", textBody: text, messageID: MessageID("dots@invoiceflow.test"), date: Date()
        ).render()
        #expect(await client.send(rendered).kind == .sent)
        let decoded = try server.decode(try #require(try server.deliveredMessages().first))
        #expect(decoded.text == text)
    }

    @Test("The connection is reused with RSET and NOOP, and replaced after the per-connection cap")
    func connectionReuse() async throws {
        var options = SMTPTestServer.Options()
        options.rejectedRecipient = "nobody@example.test"
        let server = try SMTPTestServer(options)
        var configuration = try configuration(server, scheme: "smtp", credentials: false)
        configuration.maximumMessagesPerConnection = 2
        configuration.probeAfterIdle = .zero  // every reuse sends NOOP first
        let client = try SMTPClient(configuration: configuration, logger: Self.logger)
        #expect(await client.send(try message()).kind == .sent)
        let refused = await client.send(try message(to: "nobody@example.test"))
        #expect(refused.kind == .permanent)
        #expect(refused.phase == .recipient)
        #expect(refused.reply?.code == 550)
        #expect(refused.enhancedStatus == "5.1.1")
        #expect(await client.send(try message()).kind == .sent)  // after RSET, same connection
        #expect(await client.send(try message()).kind == .sent)  // cap of 2 reached: new connection
        let ports = try server.deliveredMessages().map { try server.decode($0).envelope.peerPort }
        #expect(ports.count == 3)
        #expect(ports[0] == ports[1])
        #expect(ports[1] != ports[2])
    }

    @Test("With PIPELINING the envelope goes in one write; a refused recipient fails the whole message")
    func pipelining() async throws {
        var options = SMTPTestServer.Options()
        options.pipelining = true
        options.rejectedRecipient = "nobody@example.test"
        let server = try SMTPTestServer(options)
        let client = try SMTPClient(
            configuration: configuration(server, scheme: "smtp", credentials: false), logger: Self.logger)
        #expect(await client.send(try message()).kind == .sent)
        var two = try message()
        two = RenderedMessage(
            messageID: two.messageID,
            envelope: Envelope(
                sender: two.envelope.sender,
                recipients: [try EmailAddress("ivan@example.test"), try EmailAddress("nobody@example.test")]),
            bytes: two.bytes)
        let refused = await client.send(two)
        #expect(refused.kind == .permanent, "\(refused)")
        #expect(refused.phase == .recipient)
        #expect(refused.reply?.code == 550)
        #expect(await client.send(try message()).kind == .sent)
        // The refused message reached nobody, not even the accepted recipient.
        let files = try server.deliveredMessages()
        #expect(files.count == 2)
        #expect(
            try files.map { try server.decode($0).envelope.recipients } == [
                ["ivan@example.test"], ["ivan@example.test"],
            ])
    }

    @Test("A relay that vanishes while the content is written gives a transient outcome, not SIGPIPE")
    func vanishingDuringData() async throws {
        var options = SMTPTestServer.Options()
        options.tls = .implicit
        options.closeDuringData = true
        let server = try SMTPTestServer(options)
        let client = try SMTPClient(
            configuration: configuration(server, credentials: false), logger: Self.logger)
        // Large enough that the writes outlast the peer's socket.
        let big = try MailMessage(
            from: Mailbox(address: "noreply@invoiceflow.test"), to: [Mailbox(address: "a@example.test")],
            subject: "big", textBody: String(repeating: "счёт на оплату\n", count: 50_000),
            messageID: MessageID("big@invoiceflow.test"), date: Date()
        ).render()
        let outcome = await client.send(big)
        #expect(outcome.kind == .transient, "\(outcome)")
        #expect(outcome.phase == .data)
        #expect(await client.send(big).kind == .transient)  // and the client still works
    }

    @Test(
        "A connection the relay dropped while idle is replaced without losing the message",
        arguments: [true, false])
    func staleConnection(probe: Bool) async throws {
        var options = SMTPTestServer.Options()
        options.idleTimeout = 0.5
        let server = try SMTPTestServer(options)
        var configuration = try configuration(server, scheme: "smtp", credentials: false)
        // With the probe, NOOP finds the dead connection; without it, MAIL FROM does, and the
        // client reconnects once because nothing had reached DATA yet.
        configuration.probeAfterIdle = probe ? .milliseconds(100) : .seconds(3600)
        let client = try SMTPClient(configuration: configuration, logger: Self.logger)
        #expect(await client.send(try message()).kind == .sent)
        try await Task.sleep(for: .seconds(1.5))
        let second = await client.send(try message())
        #expect(second.kind == .sent, "\(second)")
        let ports = try server.deliveredMessages().map { try server.decode($0).envelope.peerPort }
        #expect(ports.count == 2)
        #expect(Set(ports).count == 2)
    }

    @Test("A final-dot reply slower than its deadline is 'unknown', not a failure")
    func slowFinalDot() async throws {
        var options = SMTPTestServer.Options()
        options.slowFinalDot = 3
        let server = try SMTPTestServer(options)
        var configuration = try configuration(server, scheme: "smtp", credentials: false)
        configuration.timeouts.finalDot = .milliseconds(800)
        let client = try SMTPClient(configuration: configuration, logger: Self.logger)
        let outcome = await client.send(try message())
        #expect(outcome.kind == .unknownAfterFinalDot, "\(outcome)")
        #expect(outcome.phase == .finalDot)
        #expect(try server.deliveredMessages().count == 1)  // the relay did take it
    }

    @Test("A 4xx reply is a transient outcome and the retry is delivered")
    func temporaryFailure() async throws {
        var options = SMTPTestServer.Options()
        options.temporaryFailures = 1
        let server = try SMTPTestServer(options)
        let client = try SMTPClient(
            configuration: configuration(server, scheme: "smtp", credentials: false), logger: Self.logger)
        let rendered = try message()
        let first = await client.send(rendered)
        #expect(first.kind == .transient)
        #expect(first.phase == .finalDot)
        #expect(first.reply?.code == 451)
        #expect(first.enhancedStatus == "4.3.0")
        #expect(await client.send(rendered).kind == .sent)
        #expect(try server.deliveredMessages().count == 1)
    }

    @Test("A reply lost after the final dot is 'unknown'; the retry sends identical bytes and Message-ID")
    func droppedAfterFinalDot() async throws {
        var options = SMTPTestServer.Options()
        options.dropsAfterFinalDot = 1
        let server = try SMTPTestServer(options)
        let client = try SMTPClient(
            configuration: configuration(server, scheme: "smtp", credentials: false), logger: Self.logger)
        let rendered = try message()
        let first = await client.send(rendered)
        #expect(first.kind == .unknownAfterFinalDot, "\(first)")
        #expect(first.phase == .finalDot)
        #expect(first.reply == nil)
        let second = await client.send(rendered)
        #expect(second.kind == .sent, "\(second)")
        let files = try server.deliveredMessages()
        #expect(files.count == 2)
        #expect(try files.map { try Data(contentsOf: $0) }.allSatisfy { Array($0) == rendered.bytes })
    }

    @Test("A message over the announced SIZE is refused before DATA")
    func tooLarge() async throws {
        var options = SMTPTestServer.Options()
        options.maximumMessageSize = 1000
        let server = try SMTPTestServer(options)
        let client = try SMTPClient(
            configuration: configuration(server, scheme: "smtp", credentials: false), logger: Self.logger)
        let outcome = await client.send(try message())
        #expect(outcome.kind == .permanent)
        #expect(outcome.phase == .message)
        #expect(try server.deliveredMessages().isEmpty)
    }

    @Test("An IP-address relay is verified against the certificate's IP address")
    func ipAddressHost() async throws {
        var options = SMTPTestServer.Options()
        options.tls = .implicit
        let server = try SMTPTestServer(options)
        let client = try SMTPClient(
            configuration: configuration(server, host: "127.0.0.1", credentials: false), logger: Self.logger)
        #expect(await client.send(try message()).kind == .sent)
    }

    enum Refusal: String, CaseIterable, Sendable {
        case wrongHostCertificate, untrustedCA, systemStoreOnly, noSTARTTLSOffered, injectionAfter220
        case implicitTLSAgainstPlaintext, authenticationRequiredButNoTLS, wrongPassword, credentialsOverPlaintext
    }

    @Test("Configuration faults are refused before any message is sent", arguments: Refusal.allCases)
    func refusals(_ refusal: Refusal) async throws {
        var options = SMTPTestServer.Options()
        options.tls = .implicit
        var scheme = "smtps"
        var query = ""
        var credentials = true
        var caFile: String?
        var password = SMTPTestServer.password
        var expectedPhase = SMTPPhase.tls
        switch refusal {
        case .wrongHostCertificate: options.certificate = .wrongHost
        case .untrustedCA: options.certificate = .untrustedIssuer
        case .systemStoreOnly: caFile = ""
        case .noSTARTTLSOffered:
            options.tls = .none
            scheme = "smtp"
        case .injectionAfter220:
            options.tls = .startTLS
            options.injectAfterSTARTTLS = true
            scheme = "smtp"
        case .implicitTLSAgainstPlaintext: options.tls = .none
        case .authenticationRequiredButNoTLS:
            options.tls = .none
            options.requireAuthentication = true
            options.offerAuthenticationOverPlaintext = true
            (scheme, query, credentials, expectedPhase) = ("smtp", "?tls=none", false, .mailFrom)
        case .wrongPassword:
            options.requireAuthentication = true
            password = "wrong"
            expectedPhase = .authentication
        case .credentialsOverPlaintext:
            // The URL parser refuses this; a configuration edited in code must be refused too.
            options.tls = .none
            options.requireAuthentication = true
            options.offerAuthenticationOverPlaintext = true
            (scheme, query, credentials, expectedPhase) = ("smtp", "?tls=none", false, .authentication)
        }
        let server = try SMTPTestServer(options)
        var configuration = try configuration(
            server, scheme: scheme, credentials: credentials, query: query, caFile: caFile)
        if caFile == "" { configuration.caFile = nil }
        if refusal == .wrongPassword || refusal == .credentialsOverPlaintext {
            configuration.credentials = SMTPCredentials(user: SMTPTestServer.user, password: password)
        }
        let client = try SMTPClient(configuration: configuration, logger: Self.logger)
        let outcome = await client.send(try message())
        #expect(outcome.kind == .configuration, "\(outcome)")
        #expect(outcome.phase == expectedPhase, "\(outcome)")
        #expect(try server.deliveredMessages().isEmpty)
        #expect(server.authenticationAttempted == (refusal == .wrongPassword))
    }

    @Test("A relay that is down is a transient connection failure")
    func relayDown() async throws {
        let port = try Self.closedPort()
        var configuration = try SMTPConfiguration(
            url: "smtps://localhost:\(port)", sender: Mailbox(address: "noreply@invoiceflow.test"))
        configuration.timeouts = .uniform(.seconds(5))
        let outcome = await SMTPClient.send(
            try MailMessage(
                from: configuration.sender, to: [Mailbox(address: "a@example.test")], subject: "s", textBody: "t",
                messageID: MessageID("down@invoiceflow.test"), date: Date()), configuration: configuration,
            logger: Self.logger)
        #expect(outcome.kind == .transient)
        #expect(outcome.phase == .connect)
    }

    @Test("A relay that comes back on its port gets the message that failed while it was down")
    func relayReturns() async throws {
        let port = try Self.closedPort()
        var options = SMTPTestServer.Options()
        options.port = port
        var configuration = try SMTPConfiguration(
            url: "smtp://localhost:\(port)", caFile: try SMTPTestServer.testPKI() + "/ca.crt",
            sender: Mailbox(address: "noreply@invoiceflow.test"))
        configuration.timeouts = .uniform(.seconds(5))
        let client = try SMTPClient(configuration: configuration, logger: Self.logger)
        let rendered = try message()
        let down = await client.send(rendered)
        #expect(down.kind == .transient)
        #expect(down.phase == .connect)
        let server = try SMTPTestServer(options)
        #expect(server.port == port)
        #expect(await client.send(rendered).kind == .sent)
        #expect(try server.deliveredMessages().count == 1)
    }

    @Test("A relay that never greets times out within the configured deadline, as a transient outcome")
    func silentRelay() async throws {
        let listener = try Self.silentListener()
        defer { close(listener.descriptor) }
        var configuration = try SMTPConfiguration(
            url: "smtps://localhost:\(listener.port)", sender: Mailbox(address: "noreply@invoiceflow.test"))
        configuration.timeouts = .uniform(.milliseconds(700))
        let client = try SMTPClient(configuration: configuration, logger: Self.logger)
        let started = ContinuousClock.now
        let outcome = await client.send(try message())
        let elapsed = started.duration(to: .now)
        #expect(outcome.kind == .transient)
        #expect(outcome.phase == .tls)
        #expect(elapsed >= .milliseconds(600) && elapsed < .seconds(3), "\(elapsed)")
    }

    @Test("Cancelling the sending task ends the wait promptly")
    func cancellation() async throws {
        let listener = try Self.silentListener()
        defer { close(listener.descriptor) }
        var configuration = try SMTPConfiguration(
            url: "smtps://localhost:\(listener.port)", sender: Mailbox(address: "noreply@invoiceflow.test"))
        configuration.timeouts = .uniform(.seconds(60))
        let client = try SMTPClient(configuration: configuration, logger: Self.logger)
        let rendered = try message()
        let started = ContinuousClock.now
        let outcome = await withTaskGroup(of: DeliveryOutcome.self) { group in
            group.addTask { await client.send(rendered) }
            try? await Task.sleep(for: .milliseconds(300))
            group.cancelAll()
            return await group.next()!
        }
        #expect(outcome.kind == .transient)
        #expect(started.duration(to: .now) < .seconds(5))
    }

    /// A loopback port with nothing listening.
    static func closedPort() throws -> Int {
        let listener = try silentListener()
        close(listener.descriptor)
        return listener.port
    }

    /// A listening socket that never accepts: connects succeed (backlog), nothing is ever sent.
    static func silentListener() throws -> (descriptor: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard fd >= 0, bound else { throw TestServerFailure("cannot listen") }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
