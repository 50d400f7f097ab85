import Foundation
import InvoiceDaemon
import InvoiceStore
import InvoiceTestSupport
import Logging
import PostgresClient
import Prometheus
import Testing

@testable import InvoiceWeb

/// `/healthz` and `/metrics` over real HTTP, against a real PostgreSQL cluster that the test stops and
/// starts, with the daemon's real LISTEN connection.
@Suite(
    "Observability: /healthz and /metrics of a running daemon", .serialized,
    .enabled(if: SMTPTestServer.isAvailable, "the test Python venv is missing"))
struct ObservabilityTests {
    /// A daemon's observable parts on a private cluster: the listener, the HTTP server and a registry.
    struct Daemon {
        let cluster: PrivateCluster
        let admin: PostgresConfiguration
        let daemonLogin: PostgresConfiguration
        let observability: WebObservability
        let listener: WorkListenerService

        static func make(port: Int) async throws -> Daemon {
            let directory = "/tmp/ifw-\(UUID().uuidString.prefix(8).lowercased())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let cluster = PrivateCluster(directory: directory, port: port, logger: TestPostgres.silentLogger)
            let admin = try cluster.start()
            let connection = try await PostgresConnection.connect(admin, logger: TestPostgres.silentLogger)
            let migrator = try Migrator(migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
            _ = try await migrator.migrate(on: connection)
            await connection.close()
            let daemonLogin = admin.setting("user", "invoiceflow_daemon")
            let listener = WorkListenerService(configuration: daemonLogin, logger: TestPostgres.silentLogger) { _ in }
            let observability = WebObservability(
                registry: PrometheusCollectorRegistry(), database: daemonLogin,
                listenerConnected: { listener.isConnected }, checkTimeout: .seconds(2))
            return Daemon(
                cluster: cluster, admin: admin, daemonLogin: daemonLogin, observability: observability,
                listener: listener)
        }

        func sql(_ text: String) async throws {
            let connection = try await PostgresConnection.connect(admin, logger: TestPostgres.silentLogger)
            try await connection.execute(script: text)
            await connection.close()
        }

        func remove() {
            try? cluster.stop()
            try? FileManager.default.removeItem(atPath: cluster.directory)
        }
    }

    /// Runs `body` with an HTTP server on an ephemeral loopback port serving the observability routes (and
    /// `listener`, if any); stops both afterwards.
    static func serving(
        _ observability: WebObservability, listener: WorkListenerService? = nil,
        _ body: @Sendable (URL) async throws -> Void
    ) async throws {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = WebServer(
            address: HTTPListenAddress(host: "127.0.0.1", port: 0),
            routes: [ObservabilityRoutes(observability: observability, logger: TestPostgres.silentLogger)],
            logger: TestPostgres.silentLogger, onListening: { continuation.yield($0) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            if let listener { group.addTask { try await listener.run() } }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw ObservabilityTestFailure("the server did not start") }
            do {
                try await body(URL(string: "http://127.0.0.1:\(port)")!)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    /// GET `path`; returns the status and the body.
    static func get(_ base: URL, _ path: String) async throws -> (status: Int, body: String, contentType: String?) {
        // A raw request with `Connection: close` (WebTestClient): no keep-alive connection outlives it, since
        // the server is stopped by cancellation when the test ends.
        let reply = try WebTestClient(base: base.absoluteString).get("/" + path)
        return (reply.status, reply.body, reply.header("Content-Type"))
    }

    /// Polls `/healthz` until it answers `status` (the listener connects and notices a loss asynchronously).
    static func healthz(_ base: URL, becomes status: Int, within limit: Duration = .seconds(20)) async throws
        -> [String: Any]
    {
        let deadline = ContinuousClock.now + limit
        while true {
            let answer = try await get(base, "healthz")
            if answer.status == status || ContinuousClock.now > deadline {
                #expect(answer.status == status, "healthz: \(answer.body)")
                #expect(answer.contentType == "application/json")
                let json = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                return try #require(json)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    @Test(
        "healthz is 200 when all is well, 503 naming the mailer when the outbox is paused, 503 naming the database and the listener when PostgreSQL is down, and 200 again after it is back"
    )
    func healthzFollowsTheDaemon() async throws {
        let daemon = try await Daemon.make(port: 55537)
        defer { daemon.remove() }
        try await Self.serving(daemon.observability, listener: daemon.listener) { base in
            var body = try await Self.healthz(base, becomes: 200)
            #expect(body["status"] as? String == "ok")
            #expect(
                body["checks"] as? [String: String] == ["database": "ok", "listener": "ok", "mailer": "ok"])

            try await daemon.sql(
                """
                UPDATE invoiceflow_private.mail_queue
                SET paused_at = now(), paused_reason = '535 5.7.8 authentication failed'
                """)
            body = try await Self.healthz(base, becomes: 503)
            #expect(body["status"] as? String == "unhealthy")
            let paused = try #require(body["checks"] as? [String: String])
            #expect(paused["database"] == "ok" && paused["listener"] == "ok")
            #expect(paused["mailer"]?.hasPrefix("paused") == true)
            #expect(paused["mailer"]?.contains("535") == false, "the relay's reply stays out of the public body")

            try await daemon.sql("SELECT invoiceflow.resume_mail_queue('fixed')")
            _ = try await Self.healthz(base, becomes: 200)

            try daemon.cluster.stop()
            body = try await Self.healthz(base, becomes: 503)
            let down = try #require(body["checks"] as? [String: String])
            #expect(down["database"] == "unreachable")
            #expect(down["mailer"]?.hasPrefix("unknown") == true)
            // The listener notices the loss on its own (the server closed its socket); poll until it has.
            let deadline = ContinuousClock.now + .seconds(20)
            while daemon.listener.isConnected && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(
                try await Self.healthz(base, becomes: 503)["checks"] as? [String: String] == [
                    "database": "unreachable", "listener": "not connected",
                    "mailer": "unknown (database unreachable)",
                ])

            // /metrics still answers while the database is down, and says so.
            let scrape = try await Self.get(base, "metrics")
            #expect(scrape.status == 200)
            let families = try ObservabilityMetricsTests.parse(scrape.body)
            #expect(families["invoiceflow_database_up"]?.samples.first?.value == 0)
            #expect(families["invoiceflow_listener_connected"]?.samples.first?.value == 0)

            _ = try daemon.cluster.start()
            _ = try await Self.healthz(base, becomes: 200, within: .seconds(30))
        }
    }

    @Test("healthz is 503 naming the listener while the daemon's LISTEN connection is down")
    func healthzNamesTheListener() async throws {
        try await TestPostgres.withDatabase { database in
            let daemonLogin = try await ObservabilityMetricsTests.migrate(database)
            let deaf = WebObservability(
                registry: PrometheusCollectorRegistry(), database: daemonLogin, listenerConnected: { false })
            let (report, figures) = await HealthReport.check(deaf, logger: TestPostgres.silentLogger)
            #expect(!report.isHealthy)
            #expect(report.checks.map(\.name) == ["database", "listener", "mailer"])
            #expect(report.checks.map(\.problem) == [nil, "not connected", nil])
            #expect(figures != nil)
            #expect(
                report.json
                    == #"{"checks":{"database":"ok","listener":"not connected","mailer":"ok"},"status":"unhealthy"}"#
                    + "\n")
        }
    }
}

extension ObservabilityTests {
    @Test(
        "health and metrics connections get short timeouts and keep the operator's server options",
        arguments: [
            ("host=/tmp port=5432 dbname=x", "-c statement_timeout=2000", "2"),
            ("host=/tmp dbname=x options='-c search_path=a'", "-c search_path=a -c statement_timeout=2000", "2"),
        ])
    func boundedConnections(conninfo: String, options: String, connectTimeout: String) throws {
        let bounded = WebObservability.bounded(try PostgresConfiguration(conninfo), timeout: .seconds(2))
        #expect(bounded.value(for: "options") == options)
        #expect(bounded.value(for: "connect_timeout") == connectTimeout)
        #expect(bounded.value(for: "application_name") == "invoiceflow-health")
        #expect(bounded.value(for: "dbname") == "x")
    }
}

/// A test precondition that failed.
struct ObservabilityTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
