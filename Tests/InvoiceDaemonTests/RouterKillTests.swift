import Foundation
import InvoiceTestSupport
import PostgresClient
import Testing

@testable import InvoiceDaemon

/// `invoiceflow serve` as a child process that the test kills with SIGKILL, no goodbye.
private final class KillableDaemon {
    private let process = Process()

    init(databaseURL: String, dataDirectory: String) throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appending(path: "invoiceflow")
        process.executableURL = executable
        process.arguments = ["serve"]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INVOICEFLOW_") }
        environment["INVOICEFLOW_DATABASE_URL"] = databaseURL
        environment["INVOICEFLOW_DATA_DIR"] = dataDirectory
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func kill() async throws {
        _ = Foundation.kill(process.processIdentifier, SIGKILL)
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
    }
}

@Suite("router: SIGKILL at random moments while invoices flow")
struct RouterKillTests {
    @Test(
        "every invoice reaches payment with no lost and no duplicated task, the daemons killed again and again",
        arguments: [1, 2])
    func killedRepeatedly(replicas: Int) async throws {
        try await withCompany { company in
            let directory = FileManager.default.temporaryDirectory.appending(path: "router-kill-\(UUID().uuidString)")
                .path
            defer {
                for n in 0..<replicas { try? FileManager.default.removeItem(atPath: directory + "-\(n)") }
            }
            let url = company.configuration.conninfo
            var invoices: [Int64] = []
            var kills = 0
            let deadline = ContinuousClock.now + .seconds(120)
            var finished = false
            while !finished && ContinuousClock.now < deadline {
                let daemons = try (0..<replicas).map { n in
                    try KillableDaemon(databaseURL: url, dataDirectory: directory + "-\(n)")
                }
                // Let it live a random while, deciding as olga whatever it has routed meanwhile.
                let lifetime = ContinuousClock.now + .milliseconds(Int.random(in: 150...1_200))
                while ContinuousClock.now < lifetime {
                    // New invoices keep arriving, two per life of the daemon.
                    if invoices.count < min(40, 2 * (kills + 1)) {
                        invoices.append(
                            try await company.submit(
                                .init(
                                    type: "operating_expenses",
                                    initiator: invoices.count.isMultiple(of: 2) ? "petr" : "gleb",
                                    roubles: 700)))
                    }
                    for task in try await company.admin.query(
                        """
                        SELECT t.id FROM invoiceflow.task t
                        WHERE t.outcome IS NULL AND t.kind = 'approve' AND t.assignee_id = \(company.employee("olga"))
                        """)
                    {
                        try await company.decide(try task.decode(0), as: "olga")
                    }
                    try await Task.sleep(for: .milliseconds(Int.random(in: 5...60)))
                }
                for daemon in daemons { try await daemon.kill() }
                kills += 1
                let waiting = try await company.admin.query(
                    """
                    SELECT count(*) FROM invoiceflow.invoice i
                    WHERE i.stage <> 'payment' OR NOT EXISTS (SELECT FROM invoiceflow.task t
                                                              WHERE t.invoice_id = i.id AND t.kind = 'pay')
                    """)
                finished = try invoices.count == 40 && waiting[0].decode(0, as: Int.self) == 0
            }
            #expect(finished, "after \(kills) kills")
            #expect(kills >= 20)
            for invoice in invoices {
                let tasks = try await company.tasks(of: invoice)
                #expect(tasks.filter { $0.kind == "approve" }.map(\.assignee) == ["olga"], "invoice \(invoice)")
                #expect(Set(tasks.filter { $0.kind == "pay" }.map(\.assignee)) == ["accountant", "accountant2"])
                #expect(tasks.filter { $0.kind == "pay" }.count == 2)
            }
            let pending = try await company.admin.query(
                "SELECT count(*) FROM invoiceflow_private.work_item WHERE done_at IS NULL OR parked_at IS NOT NULL")
            #expect(try pending[0].decode(0, as: Int.self) == 0)
        }
    }
}

/// Issue 4, "the same across a PostgreSQL restart": the server goes away under running daemons, cleanly
/// (`-m fast`: sessions terminated) or by a crash (`-m immediate`: recovery at the next start).
@Suite("router: PostgreSQL restarted under the running daemons", .serialized)
struct RouterDatabaseRestartTests {
    @Test(
        "every invoice reaches payment exactly once while the server restarts three times",
        arguments: [("fast", 1), ("immediate", 1), ("immediate", 2)])
    func serverRestarted(mode: String, replicas: Int) async throws {
        let server = TestServer(directory: "/tmp/if-restart-" + UUID().uuidString.prefix(8).lowercased(), port: 55524)
        try server.initialise(settings: [])
        try server.start()
        defer { server.destroy() }
        let company = try await ClusterCompany.create(
            server: server.conninfo(),
            conninfo: server.conninfo(database: ClusterCompany.databaseName) + " application_name=restart-test")
        let directory = FileManager.default.temporaryDirectory.appending(path: "restart-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let daemons = try (0..<replicas).map { n in
            try DaemonProcess(
                arguments: ["serve"], dataDirectory: directory + "/\(n)",
                extraEnvironment: [
                    "INVOICEFLOW_DATABASE_URL": server.conninfo(database: ClusterCompany.databaseName),
                    "INVOICEFLOW_REPORT_REFRESH_MINUTES": "0",
                ])
        }
        for daemon in daemons {
            #expect(try await daemon.waitForLine(containing: "sweeping pending work", timeout: .seconds(60)))
        }

        var submitted: [Int64] = []
        for _ in 0..<3 {
            // Invoices keep arriving and being approved while the server restarts underneath.
            try await withThrowingTaskGroup(of: [Int64].self) { group in
                group.addTask {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 50...400)))
                    try server.restart(mode: mode)
                    return []
                }
                group.addTask {
                    var ids: [Int64] = []
                    for n in 0..<6 {
                        // A submit cut off at its commit may or may not have landed: the final check counts
                        // what is in the table, not what this loop believes.
                        if let id = try? await company.submit(initiator: n.isMultiple(of: 2) ? "petr" : "gleb") {
                            ids.append(id)
                        }
                        _ = try? await company.approveAllAsOlga()
                        try await Task.sleep(for: .milliseconds(Int.random(in: 20...120)))
                    }
                    return ids
                }
                for try await ids in group { submitted += ids }
            }
        }
        for _ in 0..<3 {
            submitted.append(try await FailoverTests.retrying { try await company.submit(initiator: "petr") })
        }

        let everything = try await company.withConnection { connection in
            try await connection.query("SELECT id FROM invoiceflow.invoice").map { try $0.decode(0, as: Int64.self) }
        }
        #expect(Set(submitted).isSubset(of: Set(everything)))
        let settled = try await FailoverTests.waitUntil(seconds: 60) {
            try await company.approveAllAsOlga()
            let tasks = try await company.tasksByInvoice()
            return everything.allSatisfy { tasks[$0] == ClusterCompany.approvedAndAwaitingPayment }
        }
        let unfinished = settled ? "" : try await company.unfinishedWorkItemsDescription()
        #expect(settled, "unfinished work items:\n\(unfinished)")
        let tasks = try await company.tasksByInvoice()
        for invoice in everything {
            #expect(tasks[invoice] == ClusterCompany.approvedAndAwaitingPayment, "invoice \(invoice)")
        }
        #expect(try await company.unfinishedWorkItems() == 0)
        for daemon in daemons {
            // The listener reconnected and swept after the restarts: the routing may have finished before its
            // back-off let it try again (up to 2 s), so it is given a little time.
            let swept = try await daemon.waitForOccurrences(
                of: "sweeping pending work", atLeast: 2, timeout: .seconds(15))
            #expect(swept, "the listener did not reconnect and sweep: \(daemon.output)")
            // The daemons rode out the restarts; they did not exit and were not restarted by anyone.
            #expect(try await daemon.terminate(timeout: .seconds(30)) == 0)
        }
    }
}
