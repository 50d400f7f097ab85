import InvoiceTestSupport
import Logging
import Testing

@testable import PostgresClient

#if canImport(Glibc)
    import Glibc
#endif

/// A connection to the test server's maintenance database, for tests that create no tables.
func serverConnection(applicationName: String = "invoiceflow-tests") async throws -> PostgresConnection {
    let configuration = try TestPostgres.serverConfiguration().setting("application_name", applicationName)
    return try await PostgresConnection.connect(configuration, logger: TestPostgres.silentLogger)
}

/// Runs `body` with a connection to a fresh database that is dropped afterwards.
func withFreshDatabase<T>(_ body: (TestDatabase, PostgresConnection) async throws -> T) async throws -> T {
    try await TestPostgres.withDatabase { database in
        let connection = try await database.connect()
        defer { _ = connection }
        let result = try await body(database, connection)
        await connection.close()
        return result
    }
}

@Suite("Connection basics")
struct ConnectionBasicsTests {
    @Test("isolated closures run synchronously on the connection's own thread, not the cooperative pool")
    func runsOnDedicatedThread() async throws {
        let connection = try await serverConnection()
        let onOwnThread = try await connection.run { connection in connection.isOnConnectionThread }
        #expect(onOwnThread)
        let inTransaction = try await connection.transaction { connection in connection.isOnConnectionThread }
        #expect(inTransaction)
        #expect(!connection.isOnConnectionThread)
        await connection.close()
    }

    @Test("a dropped connection's thread ends and its executor is freed")
    func threadEnds() async throws {
        weak var executor: AnyObject?
        do {
            let connection = try await serverConnection()
            executor = connection.executorForTesting
            try await connection.query("SELECT 1")
            await connection.close()
        }
        let deadline = ContinuousClock.now + .seconds(2)
        while executor != nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(executor == nil)
    }

    @Test("session settings make text output unambiguous")
    func sessionSettings() async throws {
        let connection = try await serverConnection()
        let row = try await connection.query(
            "SELECT current_setting('TimeZone') AS tz, current_setting('DateStyle') AS ds, current_setting('IntervalStyle') AS iv, current_setting('client_encoding') AS enc, current_setting('application_name') AS app"
        )[0]
        #expect(try row.decode("tz", as: String.self) == "UTC")
        #expect(try row.decode("ds", as: String.self).hasPrefix("ISO"))
        #expect(try row.decode("iv", as: String.self) == "iso_8601")
        #expect(try row.decode("enc", as: String.self) == "UTF8")
        #expect(try row.decode("app", as: String.self) == "invoiceflow-tests")
        await connection.close()
    }

    @Test("a closed connection fails with 08003 and is not healthy")
    func closedConnection() async throws {
        let connection = try await serverConnection()
        #expect(await connection.isHealthy)
        await connection.close()
        #expect(await !connection.isHealthy)
        await #expect {
            try await connection.query("SELECT 1")
        } throws: { error in
            (error as? PostgresError)?.code == .connectionDoesNotExist
        }
    }

    @Test("connecting to a port where nothing listens fails with a class 08 error and no password in it")
    func connectFailure() async throws {
        let configuration = try PostgresConfiguration(
            "host=127.0.0.1 port=1 user=nobody password=sekret dbname=x connect_timeout=2")
        await #expect {
            _ = try await PostgresConnection.connect(configuration, logger: TestPostgres.silentLogger)
        } throws: { error in
            guard let error = error as? PostgresError else { return false }
            return error.code.isConnectionLoss && error.code == .unableToConnect
                && !error.message.contains("sekret") && !"\(error)".contains("sekret")
        }
    }

    @Test("multi-host syntax: a dead first host is skipped and the read-write server is used")
    func multiHostFailover() async throws {
        let server = try TestPostgres.serverConfiguration()
        let host = try #require(server.value(for: "host"), "the test server URL must name a host or socket directory")
        let port = server.value(for: "port") ?? "5432"
        let configuration =
            server
            .setting("host", "127.0.0.1,\(host)")
            .setting("port", "1,\(port)")
            .setting("target_session_attrs", "read-write")
        let connection = try await PostgresConnection.connect(configuration, logger: TestPostgres.silentLogger)
        let readOnly = try await connection.query("SELECT current_setting('transaction_read_only') AS ro")[0]
        #expect(try readOnly.decode("ro", as: String.self) == "off")
        await connection.close()
    }

    @Test("connect_timeout bounds a connection attempt to a server that never answers")
    func connectTimeout() async throws {
        // A listening socket that nobody accepts from: TCP connects, but the startup packet gets no reply.
        let silent = try SilentListener()
        let configuration = try PostgresConfiguration(
            "host=127.0.0.1 port=\(silent.port) user=x dbname=x connect_timeout=1")
        let started = ContinuousClock.now
        let error = try await #require(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(configuration, logger: TestPostgres.silentLogger)
        }
        let elapsed = ContinuousClock.now - started
        #expect(error.code == .unableToConnect)
        #expect(elapsed >= .milliseconds(900))
        // Without connect_timeout libpq would wait forever; the generous bound keeps a loaded machine from
        // failing the test while still proving the attempt is bounded.
        #expect(elapsed < .seconds(20))
        _ = silent
    }

    @Test("execute returns the number of affected rows; a script runs several statements")
    func affectedRows() async throws {
        try await withFreshDatabase { _, connection in
            try await connection.execute(
                script: "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')"
            )
            #expect(try await connection.execute("UPDATE t SET v = 'z' WHERE id >= \(2)") == 2)
            #expect(try await connection.execute("DELETE FROM t") == 3)
            #expect(try await connection.query("SELECT * FROM t").isEmpty)
        }
    }

    @Test("task cancellation cancels a running statement with 57014")
    func cancellation() async throws {
        let connection = try await serverConnection()
        let started = ContinuousClock.now
        let task = Task {
            try await connection.run { connection in try connection.query("SELECT pg_sleep(30)") }
        }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        await #expect {
            _ = try await task.value
        } throws: { error in
            (error as? PostgresError)?.code == .queryCanceled
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(try await connection.query("SELECT 1 AS one")[0].decode("one", as: Int.self) == 1)
        await connection.close()
    }
}

/// Collects log records so tests can look at what was logged.
final class CapturedLogs: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private let records = Recorder<[Record]>([])

    /// A logger (at trace level) whose records land here.
    var logger: Logger {
        var logger = Logger(label: "captured") { _ in Handler(logs: self) }
        logger.logLevel = .trace
        return logger
    }

    var all: [Record] { records.value }

    fileprivate func append(_ record: Record) { records.update { $0.append(record) } }

    private struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            logs.append(
                Record(
                    level: event.level, message: event.message.description,
                    metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }
}

@Suite("Server notices")
struct NoticeTests {
    @Test("notices and warnings go to the logger, not to stderr")
    func notices() async throws {
        let logs = CapturedLogs()
        let configuration = try TestPostgres.serverConfiguration()
        let connection = try await PostgresConnection.connect(configuration, logger: logs.logger)
        try await connection.execute(script: "DROP TABLE IF EXISTS no_such_table_here")
        try await connection.execute(script: "DO $$ BEGIN RAISE WARNING 'approval overdue'; END $$")
        let notice = logs.all.first { $0.message == "PostgreSQL notice" }
        #expect(notice?.level == .debug)
        #expect(notice?.metadata["postgres.message"]?.description.contains("does not exist") == true)
        #expect(notice?.metadata["postgres.sqlstate"]?.description == "00000")
        let warning = logs.all.first { $0.message == "PostgreSQL warning" }
        #expect(warning?.level == .warning)
        #expect(warning?.metadata["postgres.message"]?.description == "approval overdue")
        await connection.close()
    }
}

/// A TCP socket on 127.0.0.1 that listens but never accepts or answers, to exercise client timeouts.
final class SilentListener {
    let descriptor: Int32
    let port: UInt16

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 4) == 0
                    && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard descriptor >= 0, bound else {
            close(descriptor)
            throw PostgresError(code: .internalError, message: "no test socket")
        }
        self.descriptor = descriptor
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(descriptor) }
}
