import Foundation
import InvoiceDomain
import InvoiceTestSupport
import PostgresClient
import Testing

/// `invoiceflow routes export | import | simulate`, run as the built binary against a company database.
@Suite("invoiceflow routes export, import and simulate")
struct RoutesCommandTests {
    /// Runs `body` with a fresh company database, dropped afterwards.
    private func withCompany(_ body: (RouterTestCompany) async throws -> Void) async throws {
        let company = try await RouterTestCompany.create()
        do {
            try await body(company)
            await company.close()
        } catch {
            await company.close()
            throw error
        }
    }

    private func run(_ arguments: [String], on company: RouterTestCompany) async throws -> (Int32, String) {
        let process = try DaemonProcess(
            arguments: arguments, dataDirectory: "/nonexistent",
            extraEnvironment: [
                "INVOICEFLOW_DATABASE_URL": company.configuration.conninfo, "INVOICEFLOW_LOG_LEVEL": "warning",
            ])
        let status = try await process.waitForExit(timeout: .seconds(60))
        return (status, process.output)
    }

    /// Every stored version as `type vN`, in order.
    private func versions(in company: RouterTestCompany) async throws -> [String] {
        try await company.admin.query(
            """
            SELECT t.code || ' v' || v.version AS v FROM invoiceflow.route_version AS v
            JOIN invoiceflow.invoice_type AS t ON t.id = v.invoice_type_id ORDER BY t.id, v.version
            """
        ).map { try $0.decode("v", as: String.self) }
    }

    private func temporaryFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appending(path: "routes-\(UUID().uuidString).json").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The exported defaults of a fresh company.
    private func exported(from company: RouterTestCompany) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appending(path: "export-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (status, output) = try await run(["routes", "export", file], on: company)
        try #require(status == 0, "\(output)")
        return try String(contentsOfFile: file, encoding: .utf8)
    }

    @Test("export writes the six defaults; importing the export unchanged stores no version")
    func exportImportUnchanged() async throws {
        try await withCompany { company in
            let text = try await exported(from: company)
            #expect(try RouteAdministrationParse.file(text) == RouteFile.defaults)
            let before = try await versions(in: company)
            #expect(before.count == 6)

            let file = try temporaryFile(text)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let (status, output) = try await run(["routes", "import", file], on: company)
            #expect(status == 0, "\(output)")
            #expect(output.contains("supplier_goods: unchanged (version 1)"))
            #expect(output.contains("0 of 6 routes got a new version"))
            #expect(try await versions(in: company) == before)
        }
    }

    @Test("an edited CEO threshold stores exactly one new version and reports the changed step")
    func editedThreshold() async throws {
        try await withCompany { company in
            let edited = try await exported(from: company).replacingOccurrences(
                of: "\"1500000.00 RUB\"", with: "\"2000000.00 RUB\"")
            let file = try temporaryFile(edited)
            defer { try? FileManager.default.removeItem(atPath: file) }

            let (dryStatus, dryOutput) = try await run(["routes", "import", "--dry-run", file], on: company)
            #expect(dryStatus == 0, "\(dryOutput)")
            #expect(dryOutput.contains("supplier_goods: would store version 2 (dry run)"))
            #expect(try await versions(in: company).count == 6)

            let (status, output) = try await run(["routes", "import", file], on: company)
            #expect(status == 0, "\(output)")
            #expect(output.contains("supplier_goods: stored version 2 (was 1)\n  step ceo changed: condition"))
            #expect(output.contains("payroll: unchanged (version 1)"))
            #expect(output.contains("1 of 6 routes got a new version"))
            let after = try await versions(in: company)
            #expect(after.count == 7)
            #expect(after.contains("supplier_goods v2"))
            let body = try await company.admin.query(
                """
                SELECT (v.body ->> 'version')::integer AS version, v.body::text LIKE '%2000000.00 RUB%' AS edited
                FROM invoiceflow.route_version AS v JOIN invoiceflow.invoice_type AS t ON t.id = v.invoice_type_id
                WHERE t.code = 'supplier_goods' AND v.version = 2
                """)[0]
            #expect(try body.decode("version", as: Int.self) == 2)
            #expect(try body.decode("edited", as: Bool.self))

            // The same file again: now it matches the current version.
            let (againStatus, againOutput) = try await run(["routes", "import", file], on: company)
            #expect(againStatus == 0)
            #expect(againOutput.contains("supplier_goods: unchanged (version 2)"))
            #expect(try await versions(in: company).count == 7)
        }
    }

    /// Edits that make the file invalid, and the words the refusal must contain.
    static let invalidEdits: [(String, String, String)] = [
        ("\"1500000.00 RUB\"", "\"1500000 RUB\"", "supplier_goods: step ceo: condition"),
        ("\"kind\" : \"pay\"", "\"kind\" : \"payment\"", "step payment: kind"),
        ("\"type\" : \"payroll\"", "\"type\" : \"bonus\"", "bonus: unknown invoice type"),
        ("\"businessHours\" : 18", "\"businessHours\" : 0", "step ceo: deadline must be at least 1 business hour"),
    ]

    @Test("an invalid file is refused naming the type, step and field, and nothing is stored", arguments: invalidEdits)
    func invalidFile(edit: (String, String, String)) async throws {
        try await withCompany { company in
            // A valid change in the same file proves the refusal is all-or-nothing.
            let original = try await exported(from: company)
            #expect(original.contains(edit.0))
            let text = original.replacingOccurrences(of: edit.0, with: edit.1)
                .replacingOccurrences(of: "\"300000.00 RUB\"", with: "\"350000.00 RUB\"")
            let file = try temporaryFile(text)
            defer { try? FileManager.default.removeItem(atPath: file) }

            let (status, output) = try await run(["routes", "import", file], on: company)
            #expect(status != 0)
            #expect(output.contains("route file refused, nothing stored"), "\(output)")
            #expect(output.contains(edit.2), "\(output)")
            #expect(try await versions(in: company).count == 6)
        }
    }

    /// Amounts around the CEO threshold of supplier_goods (> 1 500 000 RUB) and whether the CEO acts.
    static let ceoThreshold: [(String, Bool)] = [("1499999.99", false), ("1500000.00", false), ("1500000.01", true)]

    @Test(
        "simulate names the people of a supplier-goods invoice below and above the CEO threshold",
        arguments: ceoThreshold)
    func simulateSupplierGoods(amount: String, ceoActs: Bool) async throws {
        try await withCompany { company in
            try await company.admin.execute(
                "UPDATE invoiceflow.employee SET login_role = 'rc_anna' WHERE id = \(company.employee("anna"))")

            let (status, output) = try await run(
                [
                    "routes", "simulate", "--type", "supplier_goods", "--amount", amount, "--initiator", "rc_anna",
                    "--paying", "warehouse", "--flags", "goodsReceived",
                ], on: company)
            #expect(status == 0, "\(output)")
            #expect(output.contains("route supplier_goods v1"))
            #expect(output.contains("acts: boris as group head_of_purchasing") || output.contains("acts: boris as"))
            #expect(output.contains("acts: wh_keeper as"), "\(output)")
            #expect(output.contains("acts: cfo as"))
            #expect(output.contains("acts: wh_treasurer as"), "\(output)")
            #expect(output.contains("acts: wh_clerk as"), "\(output)")
            #expect(output.contains("acts: ceo as") == ceoActs, "\(output)")
            #expect(output.contains("skipped ceo") == !ceoActs)
            #expect(!output.contains("acts: anna"))
        }
    }

    @Test("simulate --invoice plans a stored invoice on its pinned version after an import changed the route")
    func simulatePinnedInvoice() async throws {
        try await withCompany { company in
            try await company.admin.execute(
                "UPDATE invoiceflow.employee SET login_role = 'rc_anna' WHERE id = \(company.employee("anna"))")
            let invoice = try await company.submit(
                .init(type: "supplier_goods", initiator: "anna", roubles: 1_800_000))
            _ = try await company.route()
            let edited = try await exported(from: company).replacingOccurrences(
                of: "\"1500000.00 RUB\"", with: "\"2000000.00 RUB\"")
            let file = try temporaryFile(edited)
            defer { try? FileManager.default.removeItem(atPath: file) }
            #expect(try await run(["routes", "import", file], on: company).0 == 0)

            let (status, output) = try await run(["routes", "simulate", "--invoice", "\(invoice)"], on: company)
            #expect(status == 0, "\(output)")
            #expect(output.contains("route supplier_goods v1"), "\(output)")
            #expect(output.contains("acts: ceo as"), "\(output)")

            let (_, hypothetical) = try await run(
                [
                    "routes", "simulate", "--type", "supplier_goods", "--amount", "1800000.00", "--initiator",
                    "rc_anna",
                ], on: company)
            #expect(hypothetical.contains("route supplier_goods v2"), "\(hypothetical)")
            #expect(!hypothetical.contains("acts: ceo as"), "\(hypothetical)")
        }
    }

    @Test("simulate shows the initiator excluded from approving their own invoice and who acts instead")
    func simulateSeparationOfDuties() async throws {
        try await withCompany { company in
            try await company.admin.execute(
                "UPDATE invoiceflow.employee SET login_role = 'rc_boris' WHERE id = \(company.employee("boris"))")
            let (status, output) = try await run(
                ["routes", "simulate", "--type", "supplier_goods", "--amount", "1000.00", "--initiator", "rc_boris"],
                on: company)
            #expect(status == 0, "\(output)")
            #expect(output.contains("invoice supplier_goods 1000.00 RUB, initiator boris (rc_boris)"), "\(output)")
            #expect(output.contains("excluded: boris (rc_boris) (holder boris (rc_boris))"), "\(output)")
            #expect(!output.contains("acts: boris"), "\(output)")
        }
    }

    @Test("simulate refuses an unknown initiator with a clear message")
    func simulateUnknownInitiator() async throws {
        try await withCompany { company in
            let (status, output) = try await run(
                ["routes", "simulate", "--type", "supplier_goods", "--amount", "10.00", "--initiator", "nobody"],
                on: company)
            #expect(status != 0)
            #expect(output.contains("no employee has the login nobody"))
        }
    }
}

/// Decodes exported text as the import does.
private enum RouteAdministrationParse {
    static func file(_ text: String) throws -> RouteFile {
        try JSONDecoder().decode(RouteFile.self, from: Data(text.utf8))
    }
}
