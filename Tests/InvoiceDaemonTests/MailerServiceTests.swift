import Foundation
import InvoiceStore
import InvoiceTestSupport
import Logging
import PostgresClient
import SMTP
import Synchronization
import Testing

@testable import InvoiceDaemon

/// The outbox and the mailer against real PostgreSQL and a real SMTP server (aiosmtpd): retries,
/// dead letters, the same Message-ID after a lost reply, a relay that comes back, a paused queue, and
/// the `.eml` folder of a first run.
@Suite(
    "Mailer: the outbox delivered through a real relay", .serialized,
    .enabled(if: SMTPTestServer.isAvailable, "aiosmtpd venv missing"))
struct MailerServiceTests {
    static let fast = MailRetryPolicy(
        initialDelay: .milliseconds(50), maximumDelay: .milliseconds(200), maximumAge: .seconds(120), jitter: 0.2)

    /// A migrated database and the daemon's view of it.
    struct Outbox {
        let database: TestDatabase
        let admin: PostgresConnection
        var daemon: PostgresConfiguration { database.configuration.setting("user", "invoiceflow_daemon") }

        static func make() async throws -> Outbox {
            let database = try await TestPostgres.createDatabase()
            let admin = try await database.connect()
            let migrator = try Migrator(migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
            _ = try await migrator.migrate(on: admin)
            return Outbox(database: database, admin: admin)
        }

        /// Renders and enqueues one digest mail to `address` as the daemon would; returns the Message-ID.
        func enqueue(to address: String, maximumAge: Duration = .seconds(120)) async throws -> String {
            let composer = try MailComposer(
                sender: Mailbox(displayName: "InvoiceFlow — уведомления", address: "noreply@invoiceflow.test"),
                publicURL: "https://flow.example.ru")
            let facts = MailInvoiceFacts(
                id: 1, number: "Ч-\(Int.random(in: 1...999))", counterparty: "ООО «Ромашка»",
                amount: .rub(1_234_567, kopecks: 89), purpose: "Уборка", initiator: "Анна", payingSubdivision: "Склад")
            let notification = MailNotification(
                kind: .digest, recipient: MailRecipient(name: "Борис Петров", address: address),
                digest: [MailDigestItem(invoice: facts, dueAt: nil, overdue: false)])
            let rendered = try composer.message(for: notification).render()
            let connection = try await PostgresConnection.connect(daemon, logger: TestPostgres.silentLogger)
            try await connection.transaction { connection in
                _ = try MailOutbox.enqueue(rendered, for: notification, maximumAge: maximumAge, on: connection)
            }
            await connection.close()
            return rendered.messageID.value
        }

        /// state, attempts and the recorded outcomes of one message.
        func state(of messageID: String) async throws -> (state: String, attempts: Int, outcomes: [String]) {
            let row = try await admin.query(
                """
                SELECT o.state::text AS state, o.attempts,
                    ARRAY(SELECT a.outcome || coalesce(' ' || a.reply_code, '') FROM invoiceflow_private.mail_attempt AS a
                          WHERE a.mail_id = o.id ORDER BY a.id) AS outcomes
                FROM invoiceflow_private.mail_outbox AS o WHERE o.message_id = \(messageID)
                """)[0]
            return (try row.decode("state"), try row.decode("attempts"), try row.decode("outcomes"))
        }

        func content(of messageID: String) async throws -> Data {
            try await admin.query(
                "SELECT content FROM invoiceflow_private.mail_outbox WHERE message_id = \(messageID)")[0]
                .decode("content")
        }

        func close() async throws {
            await admin.close()
            try await database.drop()
        }
    }

    static func relay(_ server: SMTPTestServer, port: Int? = nil, password: String = SMTPTestServer.password) throws
        -> SMTPConfiguration
    {
        var configuration = try SMTPConfiguration(
            url: "smtp://\(SMTPTestServer.user):\(password)@localhost:\(port ?? server.port)", caFile: server.caFile,
            sender: Mailbox(address: "noreply@invoiceflow.test"))
        configuration.timeouts = .uniform(.seconds(10))
        return configuration
    }

    /// Runs a mailer until `done` holds (checked every 50 ms) or `timeout` passes, then stops it.
    static func runMailer(
        _ outbox: Outbox, transport: any MailTransport, timeout: Duration = .seconds(30),
        until done: @escaping @Sendable () async throws -> Bool
    ) async throws -> Bool {
        let mailer = MailerService(
            configuration: outbox.daemon, worker: "mailer-test", transport: transport,
            logger: TestPostgres.silentLogger,
            retry: fast, sweepInterval: .milliseconds(50))
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await mailer.run()
                return false
            }
            group.addTask {
                let clock = ContinuousClock()
                let deadline = clock.now.advanced(by: timeout)
                while clock.now < deadline {
                    if try await done() { return true }
                    try await Task.sleep(for: .milliseconds(50))
                }
                return false
            }
            let result = try await group.next() ?? false
            group.cancelAll()
            return result
        }
    }

    @Test("451 after the final dot: retried with back-off and later delivered, every reply recorded")
    func temporaryFailureRetried() async throws {
        var options = SMTPTestServer.Options()
        options.requireAuthentication = true
        options.temporaryFailures = 2
        let server = try SMTPTestServer(options)
        let outbox = try await Outbox.make()
        let id = try await outbox.enqueue(to: "boris@example.org")
        let client = try SMTPClient(configuration: Self.relay(server), logger: TestPostgres.silentLogger)
        let delivered = try await Self.runMailer(outbox, transport: client) {
            try await outbox.state(of: id).state == "sent"
        }
        #expect(delivered)
        let state = try await outbox.state(of: id)
        #expect(state.outcomes == ["transient 451", "transient 451", "sent 250"])
        #expect(state.attempts == 3)
        let files = try server.deliveredMessages()
        try #require(files.count == 1)
        let decoded = try server.decode(files[0])
        #expect(decoded.messageID == "<\(id)>")
        #expect(decoded.subject == "InvoiceFlow: у вас 1 открытая задача")
        #expect(decoded.defects.isEmpty)
        try await outbox.close()
    }

    @Test("550 for a recipient: dead-lettered at once, the other mail still delivered")
    func permanentFailureDeadLettered() async throws {
        var options = SMTPTestServer.Options()
        options.rejectedRecipient = "nobody@example.org"
        let server = try SMTPTestServer(options)
        let outbox = try await Outbox.make()
        let bad = try await outbox.enqueue(to: "nobody@example.org")
        let good = try await outbox.enqueue(to: "boris@example.org")
        let client = try SMTPClient(configuration: Self.relay(server), logger: TestPostgres.silentLogger)
        let finished = try await Self.runMailer(outbox, transport: client) {
            let states = (try await outbox.state(of: bad).state, try await outbox.state(of: good).state)
            return states.0 != "pending" && states.1 != "pending"
        }
        #expect(finished)
        #expect(try await outbox.state(of: bad).state == "dead")
        #expect(try await outbox.state(of: bad).outcomes == ["permanent 550"])
        #expect(try await outbox.state(of: good).state == "sent")
        #expect(try server.deliveredMessages().count == 1)
        try await outbox.close()
    }

    @Test("the reply after the final dot is lost: retried with the same Message-ID and the same bytes")
    func unknownAfterFinalDotRetried() async throws {
        var options = SMTPTestServer.Options()
        options.dropsAfterFinalDot = 1
        let server = try SMTPTestServer(options)
        let outbox = try await Outbox.make()
        let id = try await outbox.enqueue(to: "boris@example.org")
        let client = try SMTPClient(configuration: Self.relay(server), logger: TestPostgres.silentLogger)
        let delivered = try await Self.runMailer(outbox, transport: client) {
            try await outbox.state(of: id).state == "sent"
        }
        #expect(delivered)
        #expect(try await outbox.state(of: id).outcomes == ["unknown_after_final_dot", "sent 250"])
        // The relay got it twice (RFC 1047): identical messages a receiver can de-duplicate.
        let files = try server.deliveredMessages()
        try #require(files.count == 2)
        #expect(try Data(contentsOf: files[0]) == Data(contentsOf: files[1]))
        #expect(try server.decode(files[0]).messageID == "<\(id)>")
        #expect(try server.decode(files[1]).messageID == "<\(id)>")
        try await outbox.close()
    }

    @Test("the relay is down for a while: everything is delivered after it returns, nothing lost")
    func relayOutage() async throws {
        let server = try SMTPTestServer()
        let outbox = try await Outbox.make()
        var enqueued: [String] = []
        for n in 1...5 { enqueued.append(try await outbox.enqueue(to: "person\(n)@example.org")) }
        let ids = enqueued
        // The mailer is pointed at a port where nothing listens yet; later a forwarder to the
        // real server opens there: the relay "comes back" on the same address.
        let port = try FreePort.take()
        let client = try SMTPClient(configuration: Self.relay(server, port: port), logger: TestPostgres.silentLogger)
        let forwarder = Forwarder(listenPort: port, targetPort: server.port)
        let delivered = try await Self.runMailer(outbox, transport: client, timeout: .seconds(60)) {
            var states: [(state: String, attempts: Int, outcomes: [String])] = []
            for id in ids { states.append(try await outbox.state(of: id)) }
            if !forwarder.isRunning, states.allSatisfy({ $0.attempts >= 2 }) { try forwarder.start() }
            return states.allSatisfy { $0.state == "sent" }
        }
        forwarder.stop()
        #expect(delivered)
        #expect(forwarder.wasStarted)
        for id in ids {
            let state = try await outbox.state(of: id)
            #expect(state.outcomes.first == "transient")
            #expect(state.outcomes.last == "sent 250")
        }
        let received = try server.deliveredMessages().map { try server.decode($0).messageID }
        #expect(Set(received) == Set(ids.map { "<\($0)>" }))
        #expect(received.count == ids.count)
        try await outbox.close()
    }

    @Test("bad credentials pause the whole queue, keep the messages, and resuming delivers them")
    func badCredentialsPause() async throws {
        var options = SMTPTestServer.Options()
        options.requireAuthentication = true
        let server = try SMTPTestServer(options)
        let outbox = try await Outbox.make()
        var enqueued: [String] = []
        for n in 1...3 { enqueued.append(try await outbox.enqueue(to: "person\(n)@example.org")) }
        let ids = enqueued
        let wrong = try SMTPClient(
            configuration: Self.relay(server, password: "wrong"), logger: TestPostgres.silentLogger)
        let paused = try await Self.runMailer(outbox, transport: wrong, timeout: .seconds(5)) {
            try await outbox.admin.query("SELECT paused_reason FROM invoiceflow.mail_queue_status()")[0]
                .decode("paused_reason", as: String?.self) != nil
        }
        #expect(paused)
        for id in ids {
            let state = try await outbox.state(of: id)
            #expect(state.state == "pending" && state.attempts == 0)
        }
        let attempts: Int = try await outbox.admin.query(
            "SELECT count(*)::int AS n FROM invoiceflow_private.mail_attempt WHERE outcome = 'configuration' AND reply_code = 535"
        )[0].decode("n")
        #expect(attempts == 1, "only one message met the relay before the queue paused")
        #expect(try server.deliveredMessages().isEmpty)

        // Fixed: the operator resumes; a mailer with the right password delivers all of them.
        let connection = try await PostgresConnection.connect(outbox.daemon, logger: TestPostgres.silentLogger)
        #expect(try await connection.run { try MailOutbox.resume(comment: "password fixed", on: $0) })
        await connection.close()
        let right = try SMTPClient(configuration: Self.relay(server), logger: TestPostgres.silentLogger)
        let delivered = try await Self.runMailer(outbox, transport: right) {
            for id in ids {
                if try await outbox.state(of: id).state != "sent" { return false }
            }
            return true
        }
        #expect(delivered)
        #expect(try server.deliveredMessages().count == 3)
        try await outbox.close()
    }

    @Test(
        "a relay certificate that does not verify pauses the queue too, with nothing sent",
        arguments: [SMTPTestServer.TestCertificate.untrustedIssuer, .wrongHost])
    func certificatePause(certificate: SMTPTestServer.TestCertificate) async throws {
        var options = SMTPTestServer.Options()
        options.certificate = certificate
        let server = try SMTPTestServer(options)
        let outbox = try await Outbox.make()
        let id = try await outbox.enqueue(to: "boris@example.org")
        let client = try SMTPClient(configuration: Self.relay(server), logger: TestPostgres.silentLogger)
        let paused = try await Self.runMailer(outbox, transport: client, timeout: .seconds(10)) {
            try await outbox.admin.query("SELECT paused_reason FROM invoiceflow.mail_queue_status()")[0]
                .decode("paused_reason", as: String?.self) != nil
        }
        #expect(paused)
        let state = try await outbox.state(of: id)
        #expect(state.state == "pending" && state.attempts == 0 && state.outcomes == ["configuration"])
        #expect(try server.deliveredMessages().isEmpty)
        try await outbox.close()
    }

    @Test("recipients come with their language; people who have left and unknown invoices give nothing")
    func recipientsAndFacts() async throws {
        let outbox = try await Outbox.make()
        let ids: [Int64] = try await outbox.admin.query(
            """
            INSERT INTO invoiceflow.employee (full_name, email, locale, active)
            VALUES ('Борис Петров', 'boris@example.org', 'ru', true), ('Jane Doe', 'jane@example.org', 'en', true),
                   ('Ушедший Сотрудник', 'gone@example.org', 'ru', false)
            RETURNING id
            """
        ).map { try $0.decode("id") }
        let connection = try await PostgresConnection.connect(outbox.daemon, logger: TestPostgres.silentLogger)
        let recipients = try await connection.run { try MailOutbox.recipients(ids, on: $0) }
        let facts = try await connection.run { try MailOutbox.invoiceFacts(999_999, on: $0) }
        await connection.close()
        #expect(recipients.map(\.address) == ["boris@example.org", "jane@example.org"])
        #expect(recipients.map(\.locale) == [.ru, .en])
        #expect(recipients.first?.employeeID == ids[0])
        #expect(facts == nil)
        try await outbox.close()
    }

    @Test("messages enqueued together while the mailer waits are claimed together and recorded in one transaction")
    func gathered() async throws {
        let outbox = try await Outbox.make()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mail-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ids = Mutex<[String]?>(nil)
        // Five routing steps' worth of mail, one transaction (and one NOTIFY) each, once the mailer is idle.
        let delivered = try await Self.runMailer(outbox, transport: MailFolder(directory: directory)) {
            guard let known = ids.withLock({ $0 }) else {
                try await Task.sleep(for: .milliseconds(300))
                var enqueued: [String] = []
                for n in 1...5 { enqueued.append(try await outbox.enqueue(to: "person\(n)@example.org")) }
                ids.withLock { $0 = enqueued }
                return false
            }
            for id in known where try await outbox.state(of: id).state != "sent" { return false }
            return true
        }
        #expect(delivered)
        let recorded = try await outbox.admin.query(
            "SELECT count(*)::integer AS attempts, count(DISTINCT xmin::text)::integer AS transactions FROM invoiceflow_private.mail_attempt"
        )[0]
        #expect(try recorded.decode("attempts", as: Int.self) == 5)
        // One claim took them all; a sweep falling between two of the five may split them once.
        #expect(try recorded.decode("transactions", as: Int.self) <= 2)
        try await outbox.close()
    }

    @Test(
        "with no relay configured, each message is written once as an .eml file with the stored bytes, a batch recorded at once"
    )
    func emlFolder() async throws {
        let server = try SMTPTestServer()  // only for its Python e-mail parser
        let outbox = try await Outbox.make()
        let first = try await outbox.enqueue(to: "boris@example.org")
        let second = try await outbox.enqueue(to: "vera@example.org")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mail-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = MailFolder(directory: directory)
        let delivered = try await Self.runMailer(outbox, transport: folder) {
            let one = try await outbox.state(of: first).state
            let two = try await outbox.state(of: second).state
            return one == "sent" && two == "sent"
        }
        #expect(delivered)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files == ["\(first).eml", "\(second).eml"].sorted())
        // Both were claimed in one batch, and their attempts were recorded in one transaction.
        let recorded = try await outbox.admin.query(
            "SELECT count(*)::integer AS attempts, count(DISTINCT xmin::text)::integer AS transactions FROM invoiceflow_private.mail_attempt"
        )[0]
        #expect(try recorded.decode("attempts", as: Int.self) == 2)
        #expect(try recorded.decode("transactions", as: Int.self) == 1)
        let file = folder.file(for: try MessageID(first))
        let stored = try await outbox.content(of: first)
        #expect(try Data(contentsOf: file) == stored)
        // The test server's decoder wants its envelope facts next to the file.
        let facts = file.deletingPathExtension().appendingPathExtension("json")
        try Data(
            #"{"mail_from":"","rcpt_tos":[],"mail_options":[],"tls":false,"authenticated":false,"peer_port":0}"#.utf8
        ).write(to: facts)
        let decoded = try server.decode(file)
        #expect(decoded.subject == "InvoiceFlow: у вас 1 открытая задача")
        #expect(decoded.toNames == ["Борис Петров"])
        #expect(decoded.text.contains("1\u{00A0}234\u{00A0}567,89\u{00A0}₽"))
        #expect(decoded.defects.isEmpty)
        try await outbox.close()
    }
}

/// A loopback port nobody listens on right now.
enum FreePort {
    static func take() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw CocoaError(.fileReadUnknown) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A TCP forwarder (a few lines of Python asyncio) standing in for a relay that comes back online.
final class Forwarder: @unchecked Sendable {
    // @unchecked Sendable: `process` is touched only from the single polling task of a test.
    private let listenPort: Int
    private let targetPort: Int
    private var process: Process?
    private(set) var wasStarted = false

    init(listenPort: Int, targetPort: Int) {
        self.listenPort = listenPort
        self.targetPort = targetPort
    }

    var isRunning: Bool { process?.isRunning ?? false }

    func start() throws {
        let script = """
            import asyncio, ctypes, signal
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)
            async def pipe(r, w):
                try:
                    while data := await r.read(65536):
                        w.write(data); await w.drain()
                finally:
                    w.close()
            async def handle(r, w):
                tr, tw = await asyncio.open_connection("127.0.0.1", \(targetPort))
                await asyncio.gather(pipe(r, tw), pipe(tr, w), return_exceptions=True)
            async def main():
                server = await asyncio.start_server(handle, "127.0.0.1", \(listenPort), reuse_address=True)
                async with server:
                    await server.serve_forever()
            asyncio.run(main())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SMTPTestServer.python)
        process.arguments = ["-c", script]
        try process.run()
        self.process = process
        wasStarted = true
    }

    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        // Polled, like SMTPTestServer.stop: waitUntilExit may wait on a run loop nobody runs.
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit { stop() }
}
