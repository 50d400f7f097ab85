import Foundation
import InvoiceStore
import InvoiceTestSupport
import PostgresClient
import Testing

/// Issue 8, upgrade: a database left at an earlier schema version with invoices in flight is migrated by a
/// newer `invoiceflow serve` before it serves, and routing carries on with nothing lost.
@Suite("upgrade: serve migrates an older schema with invoices in flight", .serialized)
struct UpgradeTests {
    /// Schema versions a deployment may still be at: routing's first release, reporting, mail.
    static let earlierVersions: [Int] = {
        let latest = (try? InvoiceSchema.migrations().map(\.version).max()) ?? 0
        return [21, 33, 41].filter { $0 < latest }
    }()

    @Test(
        "invoices submitted at an earlier version are routed after the upgrade, as are new ones",
        arguments: earlierVersions)
    func upgradeWithInvoicesInFlight(stoppedAfter version: Int) async throws {
        let all = try InvoiceSchema.migrations()
        let earlier = all.filter { $0.version <= version }
        #expect(earlier.count < all.count)

        let server = TestServer(directory: "/tmp/if-upgrade-" + UUID().uuidString.prefix(8).lowercased(), port: 55524)
        try server.initialise(settings: [])
        try server.start()
        defer { server.destroy() }
        let company = try await ClusterCompany.create(
            server: server.conninfo(),
            conninfo: server.conninfo(database: ClusterCompany.databaseName) + " application_name=upgrade-test",
            migrations: earlier)
        let appliedBefore = try await company.withConnection { connection in
            try await connection.query("SELECT count(*)::int FROM \(unescaped: Migrator.historyTable)")[0]
                .decode(0, as: Int.self)
        }
        #expect(appliedBefore == earlier.count)

        // In flight at the old version: submitted through that version's SQL API, never routed.
        var invoices: [Int64] = []
        for n in 0..<4 { invoices.append(try await company.submit(initiator: n.isMultiple(of: 2) ? "petr" : "gleb")) }
        let pending = try await company.withConnection { connection in
            try await connection.query(
                "SELECT count(DISTINCT invoice_id)::int FROM invoiceflow_private.work_item WHERE done_at IS NULL"
            )[0].decode(0, as: Int.self)
        }
        #expect(pending == invoices.count)

        let dataDirectory = FileManager.default.temporaryDirectory.appending(path: "upgrade-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let daemon = try DaemonProcess(
            arguments: ["serve"], dataDirectory: dataDirectory,
            extraEnvironment: [
                "INVOICEFLOW_DATABASE_URL": server.conninfo(database: ClusterCompany.databaseName),
                "INVOICEFLOW_REPORT_REFRESH_MINUTES": "0",
            ])
        #expect(try await daemon.waitForLine(containing: "sweeping pending work", timeout: .seconds(90)))
        // It migrated before it served: the newer migrations, all of them, in that one start.
        #expect(daemon.output.contains("\"applied_now\":\"\(all.count - earlier.count)\""))
        let serving = try #require(daemon.output.range(of: "invoiceflow is serving"))
        let migrated = try #require(daemon.output.range(of: "schema up to date"))
        #expect(migrated.lowerBound < serving.lowerBound)

        for n in 0..<3 { invoices.append(try await company.submit(initiator: n.isMultiple(of: 2) ? "petr" : "gleb")) }
        let settled = try await FailoverTests.waitUntil(seconds: 60) {
            try await company.approveAllAsOlga()
            let tasks = try await company.tasksByInvoice()
            return invoices.allSatisfy { tasks[$0] == ClusterCompany.approvedAndAwaitingPayment }
        }
        #expect(settled)
        let tasks = try await company.tasksByInvoice()
        for invoice in invoices {
            #expect(tasks[invoice] == ClusterCompany.approvedAndAwaitingPayment, "invoice \(invoice)")
        }
        #expect(try await company.unfinishedWorkItems() == 0)
        #expect(try await daemon.terminate(timeout: .seconds(30)) == 0)
        #expect(!daemon.output.contains("\"level\":\"error\""), "errors after the upgrade: \(daemon.output)")
    }
}
