import Foundation
import InvoiceTestSupport
import PostgresClient
import Testing

/// Issue 8: with a multi-host connection string the daemon follows a failover — the primary crashes, the
/// standby is promoted, the daemon reconnects to the new primary, listens, sweeps and carries on.
@Suite("failover: the daemon follows a promoted standby", .serialized)
struct FailoverTests {
    /// How long the pair stays without a primary, as a failover manager takes a few seconds to decide.
    static let outage: Duration = .seconds(3)

    @Test("every invoice submitted before and after the failover is routed exactly once, on the new primary")
    func followsPromotedStandby() async throws {
        let cluster = try ReplicatedCluster.start()
        defer { cluster.destroy() }
        // The test's own sessions name themselves, so the standby's log tells them from the daemon's.
        let company = try await ClusterCompany.create(
            server: cluster.primary.conninfo(),
            conninfo: cluster.conninfo(
                database: ClusterCompany.databaseName,
                extra: "target_session_attrs=read-write application_name=failover-test"))
        let dataDirectory = FileManager.default.temporaryDirectory.appending(path: "failover-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        // Deliberately without target_session_attrs: the daemon must add read-write to a multi-host string.
        let daemon = try DaemonProcess(
            arguments: ["serve"], dataDirectory: dataDirectory,
            extraEnvironment: [
                "INVOICEFLOW_DATABASE_URL": cluster.conninfo(database: ClusterCompany.databaseName),
                "INVOICEFLOW_REPORT_REFRESH_MINUTES": "0",
            ])
        #expect(try await daemon.waitForLine(containing: "sweeping pending work", timeout: .seconds(60)))

        // Before: invoices routed, half of them approved and routed on to payment, four more still in flight.
        var invoices: [Int64] = []
        for n in 0..<8 { invoices.append(try await company.submit(initiator: n.isMultiple(of: 2) ? "petr" : "gleb")) }
        #expect(try await Self.waitUntil(seconds: 30) { try await company.tasksByInvoice().count == 8 })
        try await company.approveAllAsOlga()
        for n in 0..<4 { invoices.append(try await company.submit(initiator: n.isMultiple(of: 2) ? "petr" : "gleb")) }

        // The primary crashes; nobody is primary for a while; then the standby is promoted.
        let linesBeforeOutage = daemon.output.split(separator: "\n").count
        try cluster.primary.stop(mode: "immediate")
        try await Task.sleep(for: Self.outage)
        try cluster.standby.promote()
        let promoted = ContinuousClock.now

        // The first invoice on the new primary: how long until the daemon has routed it.
        let first = try await Self.retrying { try await company.submit(initiator: "petr") }
        invoices.append(first)
        #expect(try await Self.waitUntil(seconds: 30) { try await company.tasksByInvoice()[first] != nil })
        let resumed = promoted.duration(to: .now)
        let outageLines = daemon.output.split(separator: "\n").dropFirst(linesBeforeOutage)

        // After: more invoices, every approval decided, until every invoice awaits payment.
        for n in 0..<7 { invoices.append(try await company.submit(initiator: n.isMultiple(of: 2) ? "petr" : "gleb")) }
        let settled = try await Self.waitUntil(seconds: 60) {
            try await company.approveAllAsOlga()
            let tasks = try await company.tasksByInvoice()
            return invoices.allSatisfy { tasks[$0] == ClusterCompany.approvedAndAwaitingPayment }
        }
        #expect(settled)
        let tasks = try await company.tasksByInvoice()
        for invoice in invoices {
            #expect(tasks[invoice] == ClusterCompany.approvedAndAwaitingPayment, "invoice \(invoice)")
        }
        #expect(Set(tasks.keys) == Set(invoices), "tasks of invoices nobody submitted")
        #expect(try await company.unfinishedWorkItems() == 0)
        // The listener is back too, on the new primary (its back-off is the workers': at most 2 s a try).
        let relistened = try await Self.waitUntil(seconds: 20) {
            let log = cluster.standby.log()
            guard let promoted = log.range(of: "selected new timeline ID") else { return false }
            return log[promoted.lowerBound...].contains("invoiceflow-listener")
        }
        #expect(relistened, "the listener reconnected to the new primary")
        #expect(try await daemon.terminate(timeout: .seconds(30)) == 0)

        // Never on the standby: while it was one, no daemon session ran a statement there (LISTEN included).
        let standbyLog = cluster.standby.log()
        let beforePromotion = try #require(standbyLog.range(of: "selected new timeline ID")).lowerBound
        let daemonStatements = standbyLog[..<beforePromotion].split(separator: "\n").filter {
            $0.contains(" invoiceflow") && $0.contains("statement:")
        }
        #expect(daemonStatements.isEmpty, "the daemon used the standby: \(daemonStatements)")
        // And on the new primary it did work: its sessions are there after promotion.
        #expect(standbyLog[beforePromotion...].contains("invoiceflow-listener"))

        // No flood while the database was unreachable: a few lines per service for the whole outage (4 were
        // measured), not one per retry (the earlier per-retry logging wrote 12 by hand over a similar outage).
        #expect(outageLines.count <= 16, "log lines during the outage: \(outageLines.joined(separator: "\n"))")
        let seconds = Double(resumed.components.attoseconds) / 1e18 + Double(resumed.components.seconds)
        print(
            "failover: outage \(Self.outage), daemon resumed \(String(format: "%.2f", seconds)) s after promotion, "
                + "\(outageLines.count) log lines from crash to resume, \(invoices.count) invoices, none lost or doubled"
        )
        #expect(seconds < 20)
    }

    /// Polls `condition` every 100 ms until it holds or `seconds` pass; connection errors count as "not yet".
    static func waitUntil(seconds: Int, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Runs `body` until it succeeds (the new primary may still be refusing for a moment), up to 30 s.
    static func retrying<T>(_ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                return try await body()
            } catch  where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}
