import Foundation
import InvoiceDomain
import InvoiceStore
import InvoiceTestSupport
import PostgresClient
import Synchronization
import Testing

@testable import InvoiceDaemon

/// `invoiceflow demo`: the company, the scenario through the real router and mailer, the timelines.
@Suite("invoiceflow demo", .serialized)
struct DemoTests {
    /// Lines the demo wrote, gathered from its output callback.
    final class Transcript: Sendable {
        // Mutex-protected: the demo calls `append` from its own task while the test reads afterwards.
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var text: String { lines.withLock { $0.joined(separator: "\n") } }
    }

    private static func settings(_ database: TestDatabase, dataDirectory: String) throws -> Configuration {
        try Configuration(values: [
            "INVOICEFLOW_DATABASE_URL": database.configuration.conninfo, "INVOICEFLOW_DATA_DIR": dataDirectory,
            "INVOICEFLOW_REPORT_REFRESH_MINUTES": "0",
        ])
    }

    private static func temporaryDirectory(_ label: String) -> String {
        FileManager.default.temporaryDirectory.appending(path: "invoiceflow-\(label)-\(UUID().uuidString)").path
    }

    @Test("the demo's requisites pass the validators: ИНН, КПП, accounts for their БИК")
    func requisitesAreValid() {
        let company = DemoCompany.medtech
        for (index, s) in company.subdivisions.enumerated() {
            #expect(Requisites.isValidINN(DemoRequisites.organisationINN(taxOffice: s.taxOffice, serial: s.serial)))
            #expect(Requisites.isValidKPP(DemoRequisites.kpp(taxOffice: s.taxOffice)))
            #expect(Requisites.isValidBIK(s.bik))
            let account = DemoRequisites.settlementAccount(bik: s.bik, serial: 1_000 + index)
            #expect(Requisites.isValidSettlementAccount(account, bik: s.bik), "\(s.code): \(account)")
            #expect(Requisites.isValidCorrespondentAccount(DemoRequisites.correspondentAccount(bik: s.bik), bik: s.bik))
        }
        for p in company.counterparties where p.entrepreneur {
            #expect(Requisites.isValidINN(DemoRequisites.entrepreneurINN(taxOffice: p.taxOffice, serial: p.serial)))
        }
        // A real pair as a cross-check: Sberbank Moscow's correspondent account.
        #expect(DemoRequisites.correspondentAccount(bik: "044525225") == "30101810400000000225")
        // A wrong check digit must not pass (the generator is what makes them right).
        let inn = DemoRequisites.organisationINN(taxOffice: "7701", serial: 48_213)
        let broken = String(inn.dropLast()) + String((Int(String(inn.last!))! + 1) % 10)
        #expect(!Requisites.isValidINN(broken))
    }

    @Test("plays every invoice to its stage as the right people, mails them, prints timelines, within a minute")
    func playsTheScenario() async throws {
        let database = try await TestPostgres.createDatabase()
        let dataDirectory = Self.temporaryDirectory("demo")
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let transcript = Transcript()
        let clock = ContinuousClock()
        let started = clock.now
        let summary = try await Demo.run(
            try Self.settings(database, dataDirectory: dataDirectory), keepServing: false,
            logger: TestPostgres.silentLogger
        ) { transcript.append($0) }
        let wallTime = clock.now - started
        print("demo wall time (URL mode, in-process): \(Demo.seconds(wallTime)) s")
        #expect(wallTime < .seconds(60), "the demo must finish within a minute")

        #expect(summary.played)
        #expect(summary.invoices.map(\.story) == DemoStory.scenario.map(\.key))
        let check = try await database.connect()
        for (story, expected) in zip(summary.invoices, DemoStory.scenario) {
            let stage: String = try await check.query(
                "SELECT stage::text FROM invoiceflow.invoice WHERE id = \(story.id)")[0].decode(0)
            #expect(stage == expected.finalStage, "\(story.story)")
        }
        let ids = Dictionary(uniqueKeysWithValues: summary.invoices.map { ($0.story, $0.id) })

        // Substitution: Зайцева approved for Волков, who is on vacation.
        let substituted = try await check.query(
            """
            SELECT count(*)::int FROM invoiceflow.audit_log AS a
            JOIN invoiceflow.employee AS actor ON actor.id = a.actor_employee_id
            JOIN invoiceflow.employee AS absent ON absent.id = a.acting_for_employee_id
            WHERE a.invoice_id = \(ids["supplier_goods"]!) AND a.action = 'approve'
              AND actor.login_role = 'demo_zaitseva' AND absent.login_role = 'demo_volkov'
            """)
        #expect(try substituted[0].decode(0, as: Int.self) == 1)

        // Rejection and resubmission: after the resubmission only the CFO who rejected is asked again.
        let rework = ids["rework"]!
        let actions: [String] = try await check.query(
            "SELECT action FROM invoiceflow.audit_log WHERE invoice_id = \(rework) ORDER BY id"
        ).map { try $0.decode(0) }
        #expect(actions.contains("reject") && actions.contains("return_for_rework") && actions.contains("resubmit"))
        let askedAgain: [String] = try await check.query(
            """
            SELECT t.step_key || ':' || e.login_role FROM invoiceflow.task AS t
            JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
            WHERE t.invoice_id = \(rework) AND t.kind = 'approve'
              AND t.created_at > (SELECT max(occurred_at) FROM invoiceflow.audit_log
                                  WHERE invoice_id = \(rework) AND action = 'resubmit')
            """
        ).map { try $0.decode(0) }
        #expect(askedAgain == ["cfo:demo_morozova"])

        // Intercompany: the paying side's head and the receiving side's head both approved.
        let sides: [String] = try await check.query(
            """
            SELECT t.step_key || ':' || e.login_role FROM invoiceflow.task AS t
            JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
            WHERE t.invoice_id = \(ids["intercompany"]!) AND t.outcome IN ('approved', 'approved_with_remarks')
            ORDER BY t.id
            """
        ).map { try $0.decode(0) }
        #expect(
            sides == [
                "payer_head:demo_mikhailov", "payee_head:demo_yakovlev", "group_cfo:demo_morozova", "ceo:demo_sokolov",
            ])

        // Escalation: the vacant head of the service department; the service centre's head was asked.
        let escalated = try await check.query(
            """
            SELECT count(*)::int FROM invoiceflow.audit_log
            WHERE invoice_id = \(ids["escalation"]!) AND action = 'route_step_started'
              AND comment LIKE 'department_head:%escalated to the head of%'
            """)
        #expect(try escalated[0].decode(0, as: Int.self) == 1)
        let escalatedTo: [String] = try await check.query(
            """
            SELECT e.login_role FROM invoiceflow.task AS t JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
            WHERE t.invoice_id = \(ids["escalation"]!) AND t.step_key = 'department_head'
            """
        ).map { try $0.decode(0) }
        #expect(escalatedTo == ["demo_yakovlev"])

        // SLA escalation: the scheduler's round an hour after the CFO's deadline asked the CEO to act for
        // her, and her own task stays open (a timeout never rejects).
        #expect(summary.lateRound?.escalations == 1)
        let late = ids[DemoStory.lateStory]!
        let lateTasks: [String] = try await check.query(
            """
            SELECT e.login_role || coalesce(' for ' || f.login_role, '') FROM invoiceflow.task AS t
            JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
            LEFT JOIN invoiceflow.employee AS f ON f.id = t.acting_for_id
            WHERE t.invoice_id = \(late) AND t.step_key = 'cfo' AND t.outcome IS NULL ORDER BY t.id
            """
        ).map { try $0.decode(0) }
        #expect(lateTasks == ["demo_morozova", "demo_sokolov for demo_morozova"])
        let escalationRows = try await check.query(
            "SELECT count(*)::int FROM invoiceflow.audit_log WHERE invoice_id = \(late) AND action = 'route_escalated'")
        #expect(try escalationRows[0].decode(0, as: Int.self) == 1)

        // Mail: the outbox was written to the folder, one file per message sent.
        let sent = try await check.query(
            "SELECT count(*)::int FROM invoiceflow_private.mail_outbox WHERE state = 'sent'")[0].decode(0, as: Int.self)
        // Everyone given a task got mail about that invoice (task assigned, documents requested, escalation);
        // nothing is left queued or given up.
        let unmailed: [String] = try await check.query(
            """
            SELECT t.invoice_id || ':' || t.step_key || ':' || e.login_role FROM invoiceflow.task AS t
            JOIN invoiceflow.employee AS e ON e.id = t.assignee_id
            WHERE NOT EXISTS (SELECT FROM invoiceflow_private.mail_outbox AS m
                              WHERE m.invoice_id = t.invoice_id AND m.recipient = e.email)
            """
        ).map { try $0.decode(0) }
        #expect(unmailed.isEmpty)
        #expect(sent > 40)
        let unsent = try await check.query(
            "SELECT count(*)::int FROM invoiceflow_private.mail_outbox WHERE state IN ('pending', 'dead')")
        #expect(try unsent[0].decode(0, as: Int.self) == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/mail")
            .filter { $0.hasSuffix(".eml") }
        #expect(files.count == sent)
        #expect(summary.mailDirectory == dataDirectory + "/mail")

        // Timelines: one header per invoice, who acted for whom, and the psql hints.
        let text = transcript.text
        for invoice in summary.invoices { #expect(text.contains("Invoice \(invoice.id) · ")) }
        #expect(text.contains("Зайцева Ю. А. for Волков С. П."))
        #expect(text.contains("escalated to the head of Дирекция сервисного центра"))
        #expect(text.contains("SET SESSION AUTHORIZATION demo_morozova"))
        await check.close()

        // A second run finds the company and replays nothing.
        let again = Transcript()
        let second = try await Demo.run(
            try Self.settings(database, dataDirectory: dataDirectory), keepServing: false,
            logger: TestPostgres.silentLogger
        ) { again.append($0) }
        #expect(!second.played)
        #expect(second.invoices.map(\.id) == summary.invoices.map(\.id))
        #expect(again.text.contains("already holds the demo company"))
        try await database.drop()
    }

    @Test("refuses a database holding another company, and a login that is not a superuser")
    func refusesForeignDataAndUnprivilegedLogins() async throws {
        let database = try await TestPostgres.createDatabase()
        let owner = try await database.connect()
        _ = try await Migrator(migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
            .migrate(on: owner)
        try await owner.execute(
            """
            INSERT INTO invoiceflow.subdivision (code, name, inn, kpp, bik, settlement_account, correspondent_account)
            VALUES ('acme', 'ООО «Акме»', '7701000019', '770101001', '044525225', '40702810100000000101',
                    '30101810400000000225')
            """)
        await owner.close()
        let dataDirectory = Self.temporaryDirectory("demo-refuse")
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }

        await #expect {
            _ = try await Demo.run(
                try Self.settings(database, dataDirectory: dataDirectory), keepServing: false,
                logger: TestPostgres.silentLogger
            ) { _ in }
        } throws: { error in
            guard case DemoError.foreignCompany(subdivisions: 1) = error else { return false }
            return true
        }

        let asDaemon = try Configuration(values: [
            "INVOICEFLOW_DATABASE_URL": database.configuration.setting("user", "invoiceflow_daemon").conninfo,
            "INVOICEFLOW_DATA_DIR": dataDirectory,
        ])
        await #expect {
            _ = try await Demo.run(asDaemon, keepServing: false, logger: TestPostgres.silentLogger) { _ in }
        } throws: { error in
            guard case DemoError.notSuperuser(user: "invoiceflow_daemon") = error else { return false }
            return "\(error)".contains("superuser")
        }
        try await database.drop()
    }

    @Test("`invoiceflow demo` on embedded defaults exits 0 with every timeline, and stops its cluster")
    func binaryOnEmbeddedDefaults() async throws {
        let dataDirectory = Self.temporaryDirectory("demo-process")
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let started = ContinuousClock.now
        let demo = try DaemonProcess(arguments: ["demo"], dataDirectory: dataDirectory)
        #expect(try await demo.waitForExit(timeout: .seconds(180)) == 0)
        print(
            "invoiceflow demo wall time (private cluster, child process): \(Demo.seconds(ContinuousClock.now - started)) s"
        )
        let output = demo.output
        let headers = output.split(separator: "\n").filter { $0.hasPrefix("Invoice ") }
        #expect(headers.count == DemoStory.scenario.count, "\(output)")
        #expect(output.contains("for Волков С. П."))
        #expect(output.contains("overdue tasks escalated: 1"))
        #expect(output.contains("Demo finished in"))
        #expect(output.contains("psql \"host="))
        #expect(!FileManager.default.fileExists(atPath: dataDirectory + "/postgres/data/postmaster.pid"))
        let mail = try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/mail")
        #expect(mail.contains { $0.hasSuffix(".eml") })
    }
}
