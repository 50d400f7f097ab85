import InvoiceStore
import InvoiceTestSupport
import Logging
import PostgresClient
import Testing

@testable import InvoiceDaemon

@Suite("Report snapshots refreshed by the daemon")
struct ReportRefreshServiceTests {
    @Test("the service refreshes every snapshot as invoiceflow_daemon at start and stops when cancelled")
    func refreshesAsDaemon() async throws {
        let database = try await TestPostgres.createDatabase()
        let owner = try await database.connect()
        _ = try await Migrator(migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
            .migrate(on: owner)

        let service = ReportRefreshService(
            configuration: database.configuration.setting("user", "invoiceflow_daemon"), interval: .seconds(3600),
            logger: TestPostgres.silentLogger)
        let running = Task { try await service.run() }
        var refreshed = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while refreshed < 8, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            refreshed = try await owner.query(
                "SELECT count(*)::int AS n FROM invoiceflow_private.report_snapshot_run"
            )[0].decode("n", as: Int.self)
        }
        #expect(refreshed == 8)  // the eight aggregate reports of refresh_reports() (0064)

        let cancelled = ContinuousClock.now
        running.cancel()
        try await running.value
        #expect(ContinuousClock.now - cancelled < .seconds(5))
        await owner.close()
    }

    @Test("a refresh by a role that may not refresh is logged and leaves no snapshot")
    func refusedRefreshIsHarmless() async throws {
        let database = try await TestPostgres.createDatabase()
        let owner = try await database.connect()
        _ = try await Migrator(migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
            .migrate(on: owner)
        let service = ReportRefreshService(
            configuration: database.configuration.setting("user", "invoiceflow_employee"), interval: .seconds(3600),
            logger: TestPostgres.silentLogger)
        await service.refreshOnce()
        let rows = try await owner.query("SELECT count(*)::int AS n FROM invoiceflow_private.report_snapshot_run")
        #expect(try rows[0].decode("n", as: Int.self) == 0)
        await owner.close()
    }

    @Test("the refresh interval is read in minutes, 0 turns it off, and a bad value names the key")
    func configuration() throws {
        #expect(try Configuration.load(environment: [:]).reportRefreshInterval == .seconds(900))
        let off = try Configuration.load(environment: ["INVOICEFLOW_REPORT_REFRESH_MINUTES": "0"])
        #expect(off.reportRefreshInterval == nil)
        let five = try Configuration.load(environment: ["INVOICEFLOW_REPORT_REFRESH_MINUTES": "5"])
        #expect(five.reportRefreshInterval == .seconds(300))
        for bad in ["-1", "1441", "often"] {
            #expect {
                _ = try Configuration.load(environment: ["INVOICEFLOW_REPORT_REFRESH_MINUTES": bad])
            } throws: { error in
                (error as? ConfigurationError)?.key == "INVOICEFLOW_REPORT_REFRESH_MINUTES"
            }
        }
    }
}
