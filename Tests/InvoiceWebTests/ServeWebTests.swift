import Foundation
import InvoiceDaemon
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import InvoiceWeb

#if canImport(Glibc)
    import Glibc
#endif

/// `invoiceflow serve` on embedded defaults (a private cluster, a generated link key) serves the pages:
/// the executable wires the HTTP server into the daemon, and the pages reach the database as
/// `invoiceflow_daemon`.
@Suite("invoiceflow serve: the HTTP server of the daemon", .serialized)
struct ServeWebTests {
    @Test("serve listens on INVOICEFLOW_HTTP_ADDRESS and answers a link signed with its generated key")
    func serveAnswersLinks() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serve-web-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemon = try ServeProcess(
            dataDirectory: directory, environment: ["INVOICEFLOW_HTTP_ADDRESS": "127.0.0.1:0"])
        defer { daemon.kill() }
        let line = try #require(await daemon.waitForLine(containing: "HTTP server listening", timeout: .seconds(120)))
        let port = try #require(Self.port(in: line))
        let client = WebTestClient(base: "http://127.0.0.1:\(port)")

        // The daemon generated its key on first start; a link it would mail verifies, and the page looks the
        // task up as invoiceflow_daemon (task 1 does not exist yet: "invalid link", not an error page).
        let keyring = try HTTPSettings(values: [:], dataDirectory: directory).keyring()
        let link = ActionToken(taskID: 1, recipientID: 1, expiresAt: Date().addingTimeInterval(600)).signed(
            with: keyring)
        let page = try client.get("/a/\(link)")
        #expect(page.status == 404, "\(page.body)")
        #expect(page.body.contains("Ссылка недействительна"))
        #expect(page.header("Content-Security-Policy")?.hasPrefix("default-src 'none'") == true)
        #expect(try await daemon.terminate(timeout: .seconds(60)) == 0)
        #expect(daemon.output.contains("invoiceflow stopped"))
    }

    @Test("a taken default port leaves the daemon running without pages; a configured one is an error")
    func portTaken() async throws {
        let logger = Logger(label: "invoiceflow.web.tests") { _ in SwiftLogNoOpLogHandler() }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let first = WebServer(address: .init(host: "127.0.0.1", port: 0), routes: [], logger: logger) { port in
            continuation.yield(port)
        }
        let group = ServiceGroup(configuration: .init(services: [first], gracefulShutdownSignals: [], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let taken = HTTPListenAddress(host: "127.0.0.1", port: port)

            // Configured: the service fails, so the daemon's group stops with the error.
            await #expect(throws: (any Error).self) {
                try await WebServer(address: taken, routes: [], logger: logger, required: true).run()
            }
            // Default: the service stays up, idle, until a graceful shutdown.
            let optional = ServiceGroup(
                configuration: .init(
                    services: [WebServer(address: taken, routes: [], logger: logger, required: false)],
                    gracefulShutdownSignals: [], logger: logger))
            let outcome = OutputBuffer()
            try await withThrowingTaskGroup(of: Void.self) { inner in
                inner.addTask {
                    do {
                        try await optional.run()
                        outcome.append(Data("stopped".utf8))
                    } catch {
                        outcome.append(Data("failed: \(error)".utf8))
                    }
                }
                try await Task.sleep(for: .milliseconds(500))
                #expect(outcome.text == "")  // still running
                await optional.triggerGracefulShutdown()
                try await inner.waitForAll()
            }
            #expect(outcome.text == "stopped")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// The port of the `HTTP server listening` JSON log line.
    static func port(in line: String) -> Int? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            return nil
        }
        let metadata = object["metadata"] as? [String: Any] ?? object
        return (metadata["port"] as? String).flatMap { Int($0) } ?? metadata["port"] as? Int
    }
}

/// The built `invoiceflow` executable in a child process, its output collected.
final class ServeProcess {
    private let process: Process
    private let collected = OutputBuffer()

    init(dataDirectory: String, environment extra: [String: String]) throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appending(path: "invoiceflow")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw WebTestError("invoiceflow is not built at \(executable.path)")
        }
        process = Process()
        process.executableURL = executable
        process.arguments = ["serve"]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INVOICEFLOW_") }
        environment["INVOICEFLOW_DATA_DIR"] = dataDirectory
        environment["INVOICEFLOW_LOG_FORMAT"] = "json"
        environment.merge(extra) { $1 }
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

    /// The first output line containing `text`, once it appears.
    func waitForLine(containing text: String, timeout: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = output.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            if !process.isRunning { return nil }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    func terminate(timeout: Duration) async throws -> Int32 {
        process.terminate()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { throw WebTestError("serve did not stop: \(output)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(100))
        return process.terminationStatus
    }

    /// Stops it at once if a test failed before terminating it.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }
}

/// Bytes appended on the pipe's reader thread and read by the test's task, under a lock.
final class OutputBuffer: Sendable {
    private let data = Mutex(Data())

    func append(_ bytes: Data) { data.withLock { $0.append(bytes) } }

    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}
