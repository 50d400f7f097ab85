import Foundation
import InvoiceStore
import InvoiceTestSupport
import PostgresClient
import Synchronization
import Testing

/// Runs the built `invoiceflow` executable as a person would, on embedded defaults.
@Suite("invoiceflow serve on embedded defaults", .serialized)
struct ServeProcessTests {
    @Test("comes up on a private cluster, says how to connect, stops cleanly on SIGINT, and reuses the data")
    func firstRunAndRestart() async throws {
        let dataDirectory = FileManager.default.temporaryDirectory
            .appending(path: "invoiceflow-serve-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }

        let first = try DaemonProcess(arguments: ["serve"], dataDirectory: dataDirectory)
        let ready = try await first.waitForLine(containing: "invoiceflow is serving", timeout: .seconds(120))
        #expect(ready)
        // Serving means the services are starting; the listener's first sweep means they run (and the
        // service group has taken over SIGINT, which the test sends next).
        #expect(try await first.waitForLine(containing: "sweeping pending work", timeout: .seconds(60)))
        let log = first.output
        #expect(log.contains("private PostgreSQL cluster ready"))
        #expect(log.contains("psql"))
        #expect(log.contains(dataDirectory))
        #expect(FileManager.default.fileExists(atPath: dataDirectory + "/postgres"))

        let interruptedAt = Date()
        let firstExit = try await first.interrupt(timeout: .seconds(30))
        #expect(firstExit == 0)
        // The listener must leave its poll() at once on shutdown, not at its next ping.
        let listenerStopped = try #require(first.logTime(ofMessage: "listener stopped"))
        #expect(listenerStopped.timeIntervalSince(interruptedAt) < 1.0)
        #expect(first.output.contains("private PostgreSQL cluster stopped"))
        #expect(first.output.contains("invoiceflow stopped"))
        #expect(!FileManager.default.fileExists(atPath: dataDirectory + "/postgres/data/postmaster.pid"))

        let second = try DaemonProcess(arguments: ["serve"], dataDirectory: dataDirectory)
        #expect(try await second.waitForLine(containing: "invoiceflow is serving", timeout: .seconds(60)))
        #expect(try await second.waitForLine(containing: "sweeping pending work", timeout: .seconds(60)))
        #expect(second.output.contains("\"applied_now\":\"0\""))
        #expect(try await second.terminate(timeout: .seconds(30)) == 0)
    }

    @Test(
        "serves as the daemon's own unprivileged role once the owner has migrated the schema, routing on the configured connections"
    )
    func servesAsDaemonRole() async throws {
        let database = try await TestPostgres.createDatabase()
        let owner = try await database.connect()
        _ = try await Migrator(migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
            .migrate(on: owner)
        await owner.close()

        let asDaemon = database.configuration.setting("user", "invoiceflow_daemon")
        let daemon = try DaemonProcess(
            arguments: ["serve"], dataDirectory: FileManager.default.temporaryDirectory.path,
            extraEnvironment: ["INVOICEFLOW_DATABASE_URL": asDaemon.conninfo, "INVOICEFLOW_ROUTER_CONNECTIONS": "3"])
        #expect(try await daemon.waitForLine(containing: "sweeping pending work", timeout: .seconds(60)))
        #expect(daemon.output.contains("\"applied_now\":\"0\""))
        // One LISTEN connection serves the whole daemon, on both the work and the mail channel.
        let observer = try await database.connect()
        let listening = try await observer.query(
            """
            SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity
            WHERE datname = current_database() AND application_name = 'invoiceflow-listener'
            """)
        #expect(try listening[0].decode("n", as: Int.self) == 1)
        // As many routing connections as configured (the default is 2).
        var routers = 0
        for _ in 0..<100 {
            routers = try await observer.query(
                """
                SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity
                WHERE datname = current_database() AND application_name = 'invoiceflow-router'
                """)[0].decode("n", as: Int.self)
            if routers >= 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(routers == 3)
        await observer.close()
        #expect(try await daemon.terminate(timeout: .seconds(30)) == 0)
        #expect(!daemon.output.contains("42501"))
    }

    @Test("migrate twice: the second run applies nothing")
    func migrateTwice() async throws {
        let dataDirectory = FileManager.default.temporaryDirectory
            .appending(path: "invoiceflow-migrate-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }

        let first = try DaemonProcess(arguments: ["migrate"], dataDirectory: dataDirectory)
        #expect(try await first.waitForExit(timeout: .seconds(120)) == 0)
        #expect(first.output.contains("applied "))

        let second = try DaemonProcess(arguments: ["migrate"], dataDirectory: dataDirectory)
        #expect(try await second.waitForExit(timeout: .seconds(60)) == 0)
        #expect(second.output.contains("schema is up to date"))
    }

    @Test("version names the newest migration and the fingerprint of sql/migrations, which this binary carries")
    func versionNamesSchema() async throws {
        let folder = DeployTests.repositoryRoot.appending(path: "sql/migrations")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
        let files = try names.map {
            (fileName: $0, sql: try String(contentsOf: folder.appending(path: $0), encoding: .utf8))
        }
        let newest = try #require(names.sorted().last)
        let process = try DaemonProcess(arguments: ["version"], dataDirectory: "/nonexistent")
        #expect(try await process.waitForExit(timeout: .seconds(30)) == 0)
        let fingerprint = InvoiceSchema.fingerprint(of: files)
        #expect(
            process.output.contains(
                "schema \(newest.dropLast(4)) (\(files.count) migrations, fingerprint \(fingerprint))"))
    }

    @Test("a bad configuration value stops start-up with a message naming the key")
    func badConfiguration() async throws {
        let process = try DaemonProcess(
            arguments: ["serve"], dataDirectory: "/nonexistent", extraEnvironment: ["INVOICEFLOW_POOL_SIZE": "lots"])
        #expect(try await process.waitForExit(timeout: .seconds(30)) != 0)
        #expect(process.output.contains("INVOICEFLOW_POOL_SIZE"))
    }
}

/// The `invoiceflow` executable running in a child process, its standard output and error collected.
final class DaemonProcess {
    private let process: Process
    private let collected = CollectedOutput()

    init(arguments: [String], dataDirectory: String, extraEnvironment: [String: String] = [:]) throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appending(path: "invoiceflow")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw DaemonProcessError.notBuilt(executable.path)
        }
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INVOICEFLOW_") }
        environment["INVOICEFLOW_DATA_DIR"] = dataDirectory
        environment["INVOICEFLOW_LOG_FORMAT"] = "json"
        environment.merge(extraEnvironment) { $1 }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let collected = self.collected
        pipe.fileHandleForReading.readabilityHandler = { handle in
            collected.append(handle.availableData)
        }
        try process.run()
    }

    var output: String { collected.text }

    /// The `time` of the first JSON log line whose `message` is `message`.
    func logTime(ofMessage message: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for line in output.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["message"] as? String == message, let time = object["time"] as? String
            else { continue }
            return formatter.date(from: time)
        }
        return nil
    }

    /// Waits until `text` occurs at least `count` times in the output (false after `timeout`, or once the
    /// process has exited without it).
    func waitForOccurrences(of text: String, atLeast count: Int, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        let occurrences = { self.output.components(separatedBy: text).count - 1 }
        while ContinuousClock.now < deadline {
            if occurrences() >= count { return true }
            if !process.isRunning { return occurrences() >= count }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func waitForLine(containing text: String, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if output.contains(text) { return true }
            if !process.isRunning { return output.contains(text) }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    func interrupt(timeout: Duration) async throws -> Int32 {
        process.interrupt()
        return try await waitForExit(timeout: timeout)
    }

    func terminate(timeout: Duration) async throws -> Int32 {
        process.terminate()
        return try await waitForExit(timeout: timeout)
    }

    func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw DaemonProcessError.timedOut(output)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        // Let the reader drain what the process wrote last.
        try await Task.sleep(for: .milliseconds(100))
        return process.terminationStatus
    }
}

enum DaemonProcessError: Error {
    case notBuilt(String)
    case timedOut(String)
}

/// Output gathered from a pipe's reader thread and read by the test.
final class CollectedOutput: Sendable {
    // A Mutex-protected buffer: appended on the pipe's reader thread, read by the test's task.
    private let buffer = Mutex(Data())

    func append(_ data: Data) {
        buffer.withLock { $0.append(data) }
    }

    var text: String {
        buffer.withLock { String(decoding: $0, as: UTF8.self) }
    }
}
