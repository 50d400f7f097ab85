import Foundation
import InvoiceDaemon
import InvoiceStore
import InvoiceTestSupport
import Logging
import PostgresClient
import Prometheus
import Testing

@testable import InvoiceWeb

/// `/metrics` scraped over real HTTP and read by two parsers: the Prometheus project's own Python parser
/// (`prometheus_client`, in the test venv) and a strict line check here.
@Suite(
    "Observability: /metrics in the Prometheus text format", .serialized,
    .enabled(if: SMTPTestServer.isAvailable, "the test Python venv is missing"))
struct ObservabilityMetricsTests {
    /// Migrates `database` and returns the daemon's login to it.
    static func migrate(_ database: TestDatabase) async throws -> PostgresConfiguration {
        let admin = try await database.connect()
        let migrator = try Migrator(migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
        _ = try await migrator.migrate(on: admin)
        await admin.close()
        return database.configuration.setting("user", "invoiceflow_daemon")
    }

    /// One parsed sample: its full name (with `_total`, `_bucket`...), labels and value.
    struct Sample: Decodable, Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// One parsed family as `prometheus_client` reports it.
    struct Family: Decodable {
        var name: String
        var type: String
        var documentation: String
        var samples: [Sample]
    }

    /// Parses `text` with `prometheus_client.parser.text_string_to_metric_families`, which raises on
    /// anything that is not valid exposition format.
    static func parse(_ text: String) throws -> [String: Family] {
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            families = [{"name": f.name, "type": f.type, "documentation": f.documentation,
                         "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
                        for f in text_string_to_metric_families(sys.stdin.read())]
            json.dump(families, sys.stdout)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SMTPTestServer.python)
        process.arguments = ["-c", script]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let failure = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ObservabilityTestFailure("prometheus_client refused the exposition: \(failure)")
        }
        let families = try JSONDecoder().decode([Family].self, from: data)
        return Dictionary(families.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The exposition format's line grammar, checked line by line: every line a HELP, a TYPE or a sample
    /// with quoted label values and a number; each family's TYPE given once, before its samples.
    static func strictlyValid(_ text: String) -> [String] {
        let name = "[a-zA-Z_:][a-zA-Z0-9_:]*"
        let label = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\""
        let number = "(?:[-+]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN)"
        let help = try! Regex("^# HELP (\(name)) .*$")
        let type = try! Regex("^# TYPE (\(name)) (counter|gauge|histogram|summary|untyped)$")
        let sample = try! Regex("^(\(name))(?:\\{\(label)(?:,\(label))*\\})? \(number)$")
        var problems: [String] = []
        var typed: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let line = String(line)
            if let match = try? type.wholeMatch(in: line) {
                let family = String(match.output[1].substring ?? "")
                if !typed.insert(family).inserted { problems.append("TYPE twice: \(line)") }
            } else if (try? help.wholeMatch(in: line)) != nil {
                continue
            } else if let match = try? sample.wholeMatch(in: line) {
                let sampleName = String(match.output[1].substring ?? "")
                let family = typed.first { sampleName == $0 || sampleName.hasPrefix($0 + "_") }
                if family == nil { problems.append("sample before its TYPE: \(line)") }
            } else {
                problems.append("not exposition format: \(line)")
            }
        }
        if !text.hasSuffix("\n") { problems.append("no final newline") }
        return problems
    }

    @Test("metrics parses as the Prometheus text format and carries the routing, mail, queue and HTTP figures")
    func metricsParse() async throws {
        try await TestPostgres.withDatabase { database in
            let daemonLogin = try await Self.migrate(database)
            let admin = try await database.connect()
            // Two pending messages (the older queued 30 minutes ago), one dead one.
            for id in ["old", "new", "dead"] {
                try await admin.execute(
                    """
                    SELECT invoiceflow.daemon_enqueue_mail(\(id + "@metrics.test"), 'test', 'noreply@metrics.test',
                        'b@example.org', '\\x41'::bytea)
                    """)
            }
            try await admin.execute(
                """
                UPDATE invoiceflow_private.mail_outbox SET created_at = now() - interval '30 minutes'
                WHERE message_id = 'old@metrics.test'
                """)
            try await admin.execute(
                """
                UPDATE invoiceflow_private.mail_outbox SET state = 'dead', finished_at = now()
                WHERE message_id = 'dead@metrics.test'
                """)
            await admin.close()

            let observability = WebObservability(
                registry: PrometheusCollectorRegistry(), database: daemonLogin, listenerConnected: { true })
            observability.daemon.routed()
            observability.daemon.routed()
            observability.daemon.routingFailed(parked: true)
            observability.daemon.mailAttempt(.transient, result: .deferred)
            observability.daemon.mailAttempt(.sent, result: .sent)

            try await ObservabilityTests.serving(observability) { base in
                #expect(try await ObservabilityTests.get(base, "no/such/page").status == 404)
                let first = try await ObservabilityTests.get(base, "metrics")
                #expect(first.status == 200)
                #expect(first.contentType == "text/plain; version=0.0.4; charset=utf-8")
                #expect(Self.strictlyValid(first.body) == [])
                let second = try await ObservabilityTests.get(base, "metrics")
                #expect(Self.strictlyValid(second.body) == [])
                let families = try Self.parse(second.body)

                func value(_ family: String, _ sample: String, _ labels: [String: String] = [:]) -> Double? {
                    families[family]?.samples.first { $0.name == sample && $0.labels == labels }?.value
                }
                #expect(families["invoiceflow_routing_items"]?.type == "counter")
                #expect(
                    value("invoiceflow_routing_items", "invoiceflow_routing_items_total", ["result": "routed"]) == 2)
                #expect(
                    value("invoiceflow_routing_items", "invoiceflow_routing_items_total", ["result": "parked"]) == 1)
                #expect(
                    value("invoiceflow_routing_items", "invoiceflow_routing_items_total", ["result": "retried"]) == 0,
                    "every label set is exported from the start")
                for (outcome, count) in [
                    ("sent", 1.0), ("transient", 1), ("permanent", 0), ("configuration", 0),
                    ("unknown_after_final_dot", 0),
                ] {
                    #expect(
                        value("invoiceflow_mail_attempts", "invoiceflow_mail_attempts_total", ["outcome": outcome])
                            == count, "SMTP outcome \(outcome)")
                }
                #expect(
                    value("invoiceflow_mail_messages", "invoiceflow_mail_messages_total", ["result": "deferred"]) == 1)

                #expect(families["invoiceflow_mail_outbox_messages"]?.type == "gauge")
                #expect(families["invoiceflow_mail_outbox_messages"]?.documentation.isEmpty == false)
                #expect(
                    value("invoiceflow_mail_outbox_messages", "invoiceflow_mail_outbox_messages", ["state": "pending"])
                        == 2)
                #expect(
                    value("invoiceflow_mail_outbox_messages", "invoiceflow_mail_outbox_messages", ["state": "dead"])
                        == 1)
                let age = value(
                    "invoiceflow_mail_oldest_pending_age_seconds", "invoiceflow_mail_oldest_pending_age_seconds")
                #expect((1800.0..<1900).contains(age ?? -1))
                #expect(
                    value("invoiceflow_routing_queue_items", "invoiceflow_routing_queue_items", ["state": "pending"])
                        == 0)
                #expect(
                    value(
                        "invoiceflow_routing_oldest_pending_age_seconds",
                        "invoiceflow_routing_oldest_pending_age_seconds") == 0)
                #expect(value("invoiceflow_mail_queue_paused", "invoiceflow_mail_queue_paused") == 0)
                #expect(value("invoiceflow_database_up", "invoiceflow_database_up") == 1)
                #expect(value("invoiceflow_listener_connected", "invoiceflow_listener_connected") == 1)
                let usage = value(
                    "invoiceflow_notification_queue_usage_ratio", "invoiceflow_notification_queue_usage_ratio")
                #expect((0.0...1).contains(usage ?? -1))

                #expect(families["invoiceflow_http_requests"]?.type == "counter")
                #expect(
                    value(
                        "invoiceflow_http_requests", "invoiceflow_http_requests_total",
                        ["route": "unmatched", "method": "GET", "status": "404"]) == 1,
                    "an unknown path is counted without its text as a label: \(families["invoiceflow_http_requests"]?.samples ?? [])"
                )
                #expect(
                    value(
                        "invoiceflow_http_requests", "invoiceflow_http_requests_total",
                        ["route": "/metrics", "method": "GET", "status": "200"]) == 1)
                #expect(families["invoiceflow_http_request_duration_seconds"]?.type == "histogram")
            }
        }
    }

    @Test(
        "the strict line check refuses what Prometheus would refuse",
        arguments: [
            "metric_without_type 1\n",
            "# TYPE a counter\na{label=unquoted} 1\n",
            "# TYPE a counter\na 1 2 3 4\n",
            "# TYPE a counter\n# TYPE a counter\na 1\n",
            "# TYPE a gauge\na 1",
        ])
    func strictCheckRefuses(_ text: String) {
        #expect(Self.strictlyValid(text) != [])
    }
}
