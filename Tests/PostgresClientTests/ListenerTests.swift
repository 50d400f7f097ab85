import Foundation
import InvoiceTestSupport
import Logging
import Synchronization
import Testing

@testable import PostgresClient

#if canImport(Glibc)
    import Glibc
#endif

/// No event arrived in time.
struct ListenerEventTimeout: Error, CustomStringConvertible {
    var waited: Duration
    var description: String { "no listener event within \(waited)" }
}

/// The next event of `listener`, or a thrown ``ListenerEventTimeout``.
func nextEvent(_ listener: PostgresListener, within limit: Duration = .seconds(15)) async throws -> ListenerEvent {
    let events = listener.events
    return try await withThrowingTaskGroup(of: ListenerEvent?.self) { group in
        group.addTask {
            var iterator = events.makeAsyncIterator()
            return await iterator.next()
        }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        guard let first else { throw ListenerEventTimeout(waited: limit) }
        return first
    }
}

/// Runs `listener` while `body` runs, then cancels it and returns how long `run()` took to return.
func withRunningListener(
    _ listener: PostgresListener,
    _ body: () async throws -> Void
) async throws -> Duration {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await listener.run() }
        try await body()
        let cancelled = ContinuousClock.now
        group.cancelAll()
        try await group.waitForAll()
        return cancelled.duration(to: .now)
    }
}

/// The process id of the listener's backend, found by its application name in the test database.
func listenerBackend(_ connection: PostgresConnection, database: String) async throws -> Int {
    let deadline = ContinuousClock.now + .seconds(10)
    while true {
        let rows = try await connection.query(
            """
            SELECT pid FROM pg_stat_activity
            WHERE datname = \(database) AND application_name = \(PostgresListener.applicationName)
            """)
        if let row = rows.first { return try row.decode("pid", as: Int.self) }
        guard ContinuousClock.now < deadline else { throw ListenerEventTimeout(waited: .seconds(10)) }
        try await Task.sleep(for: .milliseconds(50))
    }
}

/// Logs what the tests measured, so timings show up in the test output.
let measurements = Logger(label: "test.listener.measurements")

@Suite("PostgreSQL LISTEN listener", .serialized)
struct ListenerTests {
    let logger = Logger(label: "test.listener")

    @Test("receives NOTIFY on every listened channel with the payload intact, unicode included")
    func receivesNotifications() async throws {
        try await TestPostgres.withDatabase { database in
            let channels = ["invoice_events", "Счета \"в работе\""]
            let listener = PostgresListener(configuration: database.configuration, channels: channels, logger: logger)
            let notifier = try await database.connect()
            let stopLatency = try await withRunningListener(listener) {
                #expect(try await nextEvent(listener) == .sweep(reason: .connected))
                let payload = "счёт-фактура №42 ✓ 🧾 'quoted' \\ back"
                try await notifier.execute("SELECT pg_notify('unlistened', 'ignored')")
                for channel in channels {
                    try await notifier.execute("SELECT pg_notify(\(channel), \(payload))")
                    #expect(try await nextEvent(listener) == .notification(channel: channel, payload: payload))
                }
            }
            await notifier.close()
            #expect(stopLatency < .seconds(1))
            measurements.info("stop latency while connected", metadata: ["latency": "\(stopLatency)"])
        }
    }

    @Test("identical notifications that pile up are delivered once")
    func identicalNotificationsCoalesce() async throws {
        try await TestPostgres.withDatabase { database in
            let listener = PostgresListener(configuration: database.configuration, channels: ["c"], logger: logger)
            let notifier = try await database.connect()
            _ = try await withRunningListener(listener) {
                #expect(try await nextEvent(listener) == .sweep(reason: .connected))
                // Separate transactions: PostgreSQL itself folds duplicates only within one transaction.
                for _ in 0..<20 { try await notifier.execute("SELECT pg_notify('c', 'invoice 7')") }
                try await notifier.execute("SELECT pg_notify('c', 'done')")
                try await waitForPending(listener, count: 2)
                #expect(try await nextEvent(listener) == .notification(channel: "c", payload: "invoice 7"))
                #expect(try await nextEvent(listener) == .notification(channel: "c", payload: "done"))
            }
            await notifier.close()
        }
    }

    @Test("a burst beyond the buffer limit becomes one overflow sweep, and delivery goes on after it")
    func burstOverflowsIntoSweep() async throws {
        try await TestPostgres.withDatabase { database in
            let listener = PostgresListener(
                configuration: database.configuration, channels: ["burst"], logger: logger, bufferLimit: 50)
            let notifier = try await database.connect()
            _ = try await withRunningListener(listener) {
                #expect(try await nextEvent(listener) == .sweep(reason: .connected))
                try await notifier.execute(
                    "SELECT count(pg_notify('burst', n::text)) FROM generate_series(1, 5000) AS n")
                try await notifier.execute("SELECT pg_notify('burst', 'marker')")
                // Watch the buffer while the listener works through the burst: it never holds more than the
                // limit, and ends up holding just the overflow sweep.
                let deadline = ContinuousClock.now + .seconds(10)
                var pending = listener.events.buffer.pendingEvents
                while pending != [.sweep(reason: .overflow)], ContinuousClock.now < deadline {
                    #expect(pending.count <= 50)
                    try await Task.sleep(for: .milliseconds(5))
                    pending = listener.events.buffer.pendingEvents
                }
                #expect(pending == [.sweep(reason: .overflow)])
                #expect(try await nextEvent(listener) == .sweep(reason: .overflow))
                // The tail of the burst that reached the listener after the sweep was taken is delivered.
                try await notifier.execute("SELECT pg_notify('burst', 'after')")
                var trailing = 0
                while true {
                    let event = try await nextEvent(listener)
                    if event == .notification(channel: "burst", payload: "after") { break }
                    if event == .sweep(reason: .overflow) {
                        // The tail overflowed again, and that sweep stands for everything before it, 'after'
                        // included (a notification arriving while a sweep is pending is dropped by design).
                        // A consumer would sweep the table; the test asks again.
                        try await notifier.execute("SELECT pg_notify('burst', 'after')")
                        continue
                    }
                    guard case .notification("burst", let payload) = event, payload == "marker" || Int(payload) != nil
                    else {
                        Issue.record("unexpected event \(event)")
                        break
                    }
                    trailing += 1
                }
                #expect(trailing < 5000 - 50)
            }
            await notifier.close()
        }
    }

    @Test("keeps working after its backend is killed: reconnects, listens again, sweeps, then receives")
    func survivesTerminatedBackend() async throws {
        try await TestPostgres.withDatabase { database in
            let listener = PostgresListener(
                configuration: database.configuration, channels: ["invoice_events"], logger: logger)
            let admin = try await database.connect()
            _ = try await withRunningListener(listener) {
                #expect(try await nextEvent(listener) == .sweep(reason: .connected))
                let first = try await listenerBackend(admin, database: database.name)
                let killed = ContinuousClock.now
                try await admin.execute("SELECT pg_terminate_backend(\(first)::integer)")
                #expect(try await nextEvent(listener) == .sweep(reason: .reconnected))
                let reconnect = killed.duration(to: .now)
                measurements.info("reconnect after pg_terminate_backend", metadata: ["time": "\(reconnect)"])
                #expect(reconnect < .seconds(5))
                #expect(try await listenerBackend(admin, database: database.name) != first)
                try await admin.execute("SELECT pg_notify('invoice_events', '17')")
                #expect(try await nextEvent(listener) == .notification(channel: "invoice_events", payload: "17"))
            }
            await admin.close()
        }
    }

    @Test("a backend that stops answering is found dead by the ping and replaced")
    func pingDetectsFrozenBackend() async throws {
        try await TestPostgres.withDatabase { database in
            let listener = PostgresListener(
                configuration: database.configuration, channels: ["c"], logger: logger,
                pingInterval: .milliseconds(300), pingTimeout: .milliseconds(500))
            let admin = try await database.connect()
            _ = try await withRunningListener(listener) {
                #expect(try await nextEvent(listener) == .sweep(reason: .connected))
                let frozen = try await listenerBackend(admin, database: database.name)
                // A stopped process keeps its socket open: only the unanswered ping can reveal it.
                kill(pid_t(frozen), SIGSTOP)
                defer { kill(pid_t(frozen), SIGCONT) }
                let stopped = ContinuousClock.now
                #expect(try await nextEvent(listener, within: .seconds(10)) == .sweep(reason: .reconnected))
                measurements.info("frozen backend detected", metadata: ["time": "\(stopped.duration(to: .now))"])
                kill(pid_t(frozen), SIGCONT)
                try await admin.execute("SELECT pg_terminate_backend(\(frozen)::integer)")
                try await admin.execute("SELECT pg_notify('c', 'still listening')")
                #expect(try await nextEvent(listener) == .notification(channel: "c", payload: "still listening"))
            }
            await admin.close()
        }
    }

    @Test("keeps working after a full server restart, and stops within a second while the server is down")
    func survivesServerRestart() async throws {
        let directory = try makeClusterDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = PrivateCluster(directory: directory, port: 55438, logger: logger)
        defer { try? cluster.stop() }
        let configuration = try cluster.start()
        let listener = PostgresListener(
            configuration: configuration, channels: ["invoice_events"], logger: logger,
            reconnectBackoff: Backoff(initial: .milliseconds(50), maximum: .seconds(1)))
        let stopLatency = try await withRunningListener(listener) {
            #expect(try await nextEvent(listener) == .sweep(reason: .connected))
            try cluster.restart()
            let restarted = ContinuousClock.now
            #expect(try await nextEvent(listener) == .sweep(reason: .reconnected))
            let reconnect = restarted.duration(to: .now)
            measurements.info("reconnect after server restart", metadata: ["time": "\(reconnect)"])
            let notifier = try await PostgresConnection.connect(configuration, logger: logger)
            try await notifier.execute("SELECT pg_notify('invoice_events', 'after restart')")
            await notifier.close()
            #expect(
                try await nextEvent(listener) == .notification(channel: "invoice_events", payload: "after restart"))
            try cluster.stop()
            // Let it fail a few connection attempts, so cancellation lands in a backoff wait.
            try await Task.sleep(for: .milliseconds(1500))
        }
        measurements.info("stop latency while the server is down", metadata: ["latency": "\(stopLatency)"])
        #expect(stopLatency < .seconds(1))
    }

    @Test(
        "with several hosts it follows target_session_attrs: read-write skips a read-only server",
        arguments: [("read-write", false), ("any", true)]
    )
    func multiHostFollowsSessionAttributes(attributes: String, expectOnReadOnly: Bool) async throws {
        let directory = try makeClusterDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let readOnly = PrivateCluster(directory: directory, port: 55439, logger: logger)
        defer { try? readOnly.stop() }
        _ = try readOnly.start()
        try await TestPostgres.withDatabase { database in
            // The read-only server stands in for a standby: libpq judges both by default_transaction_read_only.
            _ = try psql(readOnly, "CREATE DATABASE \"\(database.name)\"")
            _ = try psql(readOnly, "ALTER SYSTEM SET default_transaction_read_only = on")
            _ = try psql(readOnly, "SELECT pg_reload_conf()")
            let server = database.configuration
            let conninfo =
                "host=\(readOnly.socketDirectory),\(server.value(for: "host") ?? "localhost") "
                + "port=\(readOnly.port),\(server.value(for: "port") ?? "5432") "
                + "user=\(server.value(for: "user") ?? "postgres") dbname=\(database.name) "
                + "target_session_attrs=\(attributes)"
            let listener = PostgresListener(
                configuration: try PostgresConfiguration(conninfo), channels: ["c"], logger: logger)
            let admin = try await database.connect()
            _ = try await withRunningListener(listener) {
                #expect(try await nextEvent(listener) == .sweep(reason: .connected))
                let onReadOnly = try psql(
                    readOnly,
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'invoiceflow-listener'")
                #expect(onReadOnly == (expectOnReadOnly ? "1" : "0"))
                if !expectOnReadOnly {
                    _ = try await listenerBackend(admin, database: database.name)
                    try await admin.execute("SELECT pg_notify('c', 'primary')")
                    #expect(try await nextEvent(listener) == .notification(channel: "c", payload: "primary"))
                }
            }
            await admin.close()
        }
    }

    @Test("stops within a second when it never reached a server, having logged the outage once, not per retry")
    func stopsWhenNeverConnected() async throws {
        let nowhere = try PostgresConfiguration("host=/tmp/invoiceflow-no-such-server port=5 user=nobody")
        let log = LogRecord()
        let listener = PostgresListener(
            configuration: nowhere, channels: ["c"], logger: log.logger,
            reconnectBackoff: Backoff(initial: .milliseconds(5), maximum: .milliseconds(20)))
        let stopLatency = try await withRunningListener(listener) {
            try await Task.sleep(for: .milliseconds(800))
            #expect(listener.events.buffer.pendingCount == 0)
        }
        #expect(stopLatency < .seconds(1))
        #expect(log.messages(atLeast: .debug).filter { $0 == "listener connection attempt failed" }.count > 20)
        #expect(log.messages(atLeast: .info) == ["listener cannot connect", "listener stopped"])
        var iterator = listener.events.makeAsyncIterator()
        #expect(await iterator.next() == nil)
    }

    @Test("a server that keeps killing its connection does not make it reconnect and log in a tight loop")
    func flappingConnectionBacksOff() async throws {
        try await TestPostgres.withDatabase { database in
            let log = LogRecord()
            let listener = PostgresListener(configuration: database.configuration, channels: ["c"], logger: log.logger)
            let admin = try await database.connect()
            var terminated = 0
            _ = try await withRunningListener(listener) {
                #expect(try await nextEvent(listener) == .sweep(reason: .connected))
                let until = ContinuousClock.now + .seconds(3)
                while ContinuousClock.now < until {
                    let rows = try await admin.query(
                        """
                        SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS killed FROM pg_stat_activity
                        WHERE datname = \(database.name) AND application_name = \(PostgresListener.applicationName)
                        """)
                    terminated += try rows[0].decode("killed", as: Int.self)
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            await admin.close()
            // Backoff 0.1, 0.2, 0.4, 0.8, 1.6 s carried across short-lived connections: about six in 3 s; a
            // backoff reset by every successful connect would allow twenty or more.
            measurements.info("connections killed in 3 s", metadata: ["count": "\(terminated)"])
            #expect(terminated >= 2 && terminated <= 9)
            #expect(log.messages(atLeast: .info).count <= 2 * terminated + 2)
        }
    }

    @Test("a listener runs once")
    func runsOnce() async throws {
        let nowhere = try PostgresConfiguration("host=/tmp/invoiceflow-no-such-server port=5 user=nobody")
        let listener = PostgresListener(configuration: nowhere, channels: [], logger: logger)
        _ = try await withRunningListener(listener) {}
        await #expect(throws: PostgresListenerError.alreadyStarted) { try await listener.run() }
    }

    private func waitForPending(_ listener: PostgresListener, count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while listener.events.buffer.pendingCount < count {
            guard ContinuousClock.now < deadline else { throw ListenerEventTimeout(waited: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Keeps the messages a logger emitted, with their levels, for assertions about what was logged.
final class LogRecord: Sendable {
    private let entries = Mutex<[(Logger.Level, String)]>([])

    /// A logger at debug level that records into this record.
    var logger: Logger {
        var logger = Logger(label: "test.listener.recorded") { _ in RecordingHandler(record: self) }
        logger.logLevel = .debug
        return logger
    }

    func append(_ level: Logger.Level, _ message: String) {
        entries.withLock { $0.append((level, message)) }
    }

    /// The messages at `level` or above, in order.
    func messages(atLeast level: Logger.Level) -> [String] {
        entries.withLock { $0.filter { $0.0 >= level }.map(\.1) }
    }
}

/// The handler behind ``LogRecord``.
struct RecordingHandler: LogHandler {
    let record: LogRecord
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        record.append(event.level, "\(event.message)")
    }
}
