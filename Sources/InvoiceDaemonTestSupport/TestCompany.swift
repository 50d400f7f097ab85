import Foundation
import InvoiceDaemon
import InvoiceDomain
import InvoiceStore
import InvoiceTestSupport
import Logging
import PostgresClient

/// A migrated throwaway database with a small group of companies (a head office and a warehouse
/// subdivision, every position of SCENARIOS.md) for end-to-end tests of the router, the mailer and the web
/// pages. People act through the daemon's login with `invoiceflow.acting_employee`, so no cluster-wide
/// login roles are created.
public final class TestCompany: Sendable {
    /// The test's own database (a copy of the migrated template).
    public let databaseName: String
    /// Superuser access to the test's database.
    public let configuration: PostgresConfiguration
    /// Superuser access to the maintenance database.
    public let serverConfiguration: PostgresConfiguration
    /// Superuser connection: setup and looking around (RLS does not hide anything from it).
    public let admin: PostgresConnection
    /// The daemon's login, acting for people one transaction at a time.
    public let people: PostgresConnection
    /// Employees by short name (see ``staff``).
    public let employees: [String: Int64]
    /// Subdivisions: `ho` (head office) and `wh` (warehouse).
    public let subdivisions: [String: Int64]
    /// Departments by name.
    public let departments: [String: Int64]
    /// Two counterparties with valid requisites.
    public let counterparties: [Int64]

    /// Who works where as what: name, subdivision, department, position.
    public static let staff: [(String, String, String, String)] = [
        ("ceo", "ho", "Management", "ceo"),
        ("cfo", "ho", "Finance", "cfo"),
        ("chief_acc", "ho", "Finance", "chief_accountant"),
        ("treasurer", "ho", "Finance", "treasurer"),
        ("accountant", "ho", "Finance", "accountant"),
        ("accountant2", "ho", "Finance", "accountant"),
        ("payroll", "ho", "Finance", "payroll_accountant"),
        ("clerk", "ho", "Finance", "document_clerk"),
        ("boris", "ho", "Purchasing", "head_of_purchasing"),
        ("anna", "ho", "Purchasing", "specialist"),
        ("kirill", "ho", "Logistics", "head_of_department"),
        ("lena", "ho", "Logistics", "logistics_manager"),
        ("maks", "ho", "Logistics", "specialist"),
        ("olga", "ho", "Office", "head_of_department"),
        ("petr", "ho", "Office", "specialist"),
        ("gleb", "ho", "Office", "specialist"),
        ("wh_head", "wh", "Warehouse", "head_of_department"),
        ("wh_keeper", "wh", "Warehouse", "warehouse_manager"),
        ("wh_ivan", "wh", "Warehouse", "specialist"),
        ("wh_treasurer", "wh", "Warehouse", "treasurer"),
        ("wh_clerk", "wh", "Warehouse", "document_clerk"),
    ]

    private init(
        databaseName: String, configuration: PostgresConfiguration, serverConfiguration: PostgresConfiguration,
        admin: PostgresConnection, people: PostgresConnection, employees: [String: Int64],
        subdivisions: [String: Int64], departments: [String: Int64], counterparties: [Int64]
    ) {
        self.databaseName = databaseName
        self.configuration = configuration
        self.serverConfiguration = serverConfiguration
        self.admin = admin
        self.people = people
        self.employees = employees
        self.subdivisions = subdivisions
        self.departments = departments
        self.counterparties = counterparties
    }

    /// How the router logs in.
    public var daemonConfiguration: PostgresConfiguration { configuration.setting("user", "invoiceflow_daemon") }

    private static func newID(_ c: isolated PostgresConnection, _ q: PostgresQuery) throws -> Int64 {
        try c.query(q)[0].decode(0)
    }

    /// Inserts `people` (rows of ``staff``: name, subdivision, department, position) as employees with a
    /// current assignment (`name@example.com`, assigned since a year ago); returns their ids by name.
    public static func hire(
        _ people: [(String, String, String, String)], departments: [String: Int64], subdivisions: [String: Int64],
        on c: isolated PostgresConnection
    ) throws -> [String: Int64] {
        var employees: [String: Int64] = [:]
        for (name, subdivision, department, position) in people {
            let employee = try newID(
                c,
                """
                INSERT INTO invoiceflow.employee (full_name, email) VALUES (\(name), \(name + "@example.com"))
                RETURNING id
                """)
            employees[name] = employee
            try c.execute(
                """
                INSERT INTO invoiceflow.assignment (employee_id, department_id, subdivision_id, position_id, valid)
                SELECT \(employee), \(departments[department]!), \(subdivisions[subdivision]!), p.id,
                       tstzrange(now() - interval '1 year', NULL)
                FROM invoiceflow.position AS p WHERE p.code = \(position)
                """)
        }
        return employees
    }

    /// One migrated database per test process, copied for each test: migrating is slow, and
    /// migrations running side by side race on the cluster-wide roles they create.
    private static let template = Task { () throws -> String in
        let database = try await TestPostgres.createDatabase()
        let connection = try await database.connect()
        let migrator = try Migrator(migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
        _ = try await migrator.migrate(on: connection)
        await connection.close()
        return database.name
    }

    /// Copies the migrated template into a new database and fills it with the company.
    public static func create() async throws -> TestCompany {
        let template = try await template.value
        let server = try TestPostgres.serverConfiguration()
        let name = "company_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let maintenance = try await PostgresConnection.connect(server, logger: TestPostgres.silentLogger)
        do {
            try await maintenance.execute("CREATE DATABASE \(identifier: name) TEMPLATE \(identifier: template)")
            await maintenance.close()
        } catch {
            await maintenance.close()
            throw error
        }
        let configuration = server.setting("dbname", name)
        let admin = try await PostgresConnection.connect(configuration, logger: TestPostgres.silentLogger)
        let built = try await admin.transaction { c -> ([String: Int64], [String: Int64], [String: Int64], [Int64]) in
            let ho = try newID(
                c,
                """
                INSERT INTO invoiceflow.subdivision (code, name, inn, kpp, bik, settlement_account, correspondent_account)
                VALUES ('head_office', 'ООО «Медтех Групп»', '7701000019', '770101001', '044525225',
                        '40702810100000000101', '30101810400000000225') RETURNING id
                """)
            let wh = try newID(
                c,
                """
                INSERT INTO invoiceflow.subdivision (code, name, inn, kpp, bik, settlement_account, correspondent_account)
                VALUES ('warehouse', 'ООО «Медтех Склад»', '7803000032', '780301001', '044030653',
                        '40702810600000000101', '30101810500000000653') RETURNING id
                """)
            let subdivisions = ["ho": ho, "wh": wh]
            var departments: [String: Int64] = [:]
            let management = try newID(
                c,
                "INSERT INTO invoiceflow.department (subdivision_id, name) VALUES (\(ho), 'Management') RETURNING id")
            departments["Management"] = management
            for name in ["Finance", "Purchasing", "Logistics", "Office"] {
                departments[name] = try newID(
                    c,
                    """
                    INSERT INTO invoiceflow.department (subdivision_id, parent_id, name)
                    VALUES (\(ho), \(management), \(name)) RETURNING id
                    """)
            }
            departments["Warehouse"] = try newID(
                c,
                "INSERT INTO invoiceflow.department (subdivision_id, name) VALUES (\(wh), 'Warehouse') RETURNING id")
            let employees = try hire(staff, departments: departments, subdivisions: subdivisions, on: c)
            let counterparties = [
                try newID(
                    c,
                    """
                    INSERT INTO invoiceflow.counterparty (name, inn, kpp, bik, settlement_account, correspondent_account)
                    VALUES ('ООО «МедСнаб»', '5004000040', '500401001', '044525593', '40702810700000000101',
                            '30101810200000000593') RETURNING id
                    """),
                try newID(
                    c,
                    """
                    INSERT INTO invoiceflow.counterparty (name, inn, kpp, bik, settlement_account, correspondent_account)
                    VALUES ('ООО «Чистота»', '6605000053', '660501001', '044525225', '40702810300000000202',
                            '30101810400000000225') RETURNING id
                    """),
            ]
            return (employees, subdivisions, departments, counterparties)
        }
        let people = try await PostgresConnection.connect(
            configuration.setting("user", "invoiceflow_daemon"), logger: TestPostgres.silentLogger)
        return TestCompany(
            databaseName: name, configuration: configuration, serverConfiguration: server, admin: admin, people: people,
            employees: built.0, subdivisions: built.1,
            departments: built.2, counterparties: built.3)
    }

    /// Closes the connections and drops the database.
    public func close() async {
        await people.close()
        await admin.close()
        if let server = try? await PostgresConnection.connect(serverConfiguration, logger: TestPostgres.silentLogger) {
            try? await server.execute("DROP DATABASE IF EXISTS \(identifier: databaseName) WITH (FORCE)")
            await server.close()
        }
    }

    /// The employee of that short name.
    public func employee(_ name: String) -> Int64 { employees[name]! }

    /// The short name of an employee.
    public func name(of id: Int64) -> String { employees.first { $0.value == id }?.key ?? "#\(id)" }

    /// Runs `body` in one transaction as the named employee.
    public func act<T: Sendable>(
        as name: String, _ body: @Sendable (isolated PostgresConnection) throws -> T
    ) async throws -> T {
        let id = employee(name)
        return try await people.transaction(retry: .never) { c in
            try c.execute("SELECT set_config('invoiceflow.acting_employee', \(String(id)), true)")
            return try body(c)
        }
    }

    /// A router over this database (not started: tests drive it with `drain`).
    public func router(worker: String = "router-test", maxAttempts: Int = 8) -> RouterService {
        RouterService(
            configuration: daemonConfiguration, worker: worker, logger: TestPostgres.silentLogger,
            maxAttempts: maxAttempts)
    }

    /// Routes everything claimable with a fresh daemon connection, by `router` (default: ``router(worker:maxAttempts:)``
    /// with `maxAttempts`), after storing its default routes; returns how many items were routed.
    @discardableResult
    public func route(with router: RouterService? = nil, maxAttempts: Int = 8) async throws -> Int {
        let connection = try await PostgresConnection.connect(daemonConfiguration, logger: TestPostgres.silentLogger)
        let router = router ?? self.router(maxAttempts: maxAttempts)
        let routes = router.defaultRoutes
        do {
            try await connection.transaction { try RoutingStore.installRoutes(routes, on: $0) }
            let routed = try await router.drain(connection)
            await connection.close()
            return routed
        } catch {
            await connection.close()
            throw error
        }
    }

    /// An invoice to create and submit.
    public struct InvoiceDraft: Sendable {
        public var type: String
        public var initiator: String
        public var roubles: Int64
        public var paying: String
        public var receiving: String?
        public var counterparty: Int
        public var number: String
        public var urgent: Bool
        public var outsideBudget: Bool
        public var goodsReceived: Bool
        public var purpose: String

        /// A draft of `type` by `initiator` for `roubles`, paid by the head office to the first counterparty.
        public init(
            type: String, initiator: String, roubles: Int64, paying: String = "ho", receiving: String? = nil,
            counterparty: Int = 0, number: String = UUID().uuidString.prefix(8).description, urgent: Bool = false,
            outsideBudget: Bool = false, goodsReceived: Bool = false,
            purpose: String = "Офисная мебель для отдела логистики"
        ) {
            self.type = type
            self.initiator = initiator
            self.roubles = roubles
            self.paying = paying
            self.receiving = receiving
            self.counterparty = counterparty
            self.number = number
            self.urgent = urgent
            self.outsideBudget = outsideBudget
            self.goodsReceived = goodsReceived
            self.purpose = purpose
        }
    }

    /// Creates and submits an invoice as its initiator; returns its id.
    public func submit(_ draft: InvoiceDraft) async throws -> Int64 {
        let paying = subdivisions[draft.paying]!
        let receiving = draft.receiving.map { subdivisions[$0]! }
        let counterparty: Int64? = receiving == nil ? counterparties[draft.counterparty] : nil
        return try await act(as: draft.initiator) { c in
            let id: Int64 = try c.query(
                """
                SELECT invoiceflow.create_invoice(
                    p_invoice_type => \(draft.type), p_paying_subdivision_id => \(paying),
                    p_supplier_invoice_number => \(draft.number), p_supplier_invoice_date => current_date,
                    p_amount_minor => \(draft.roubles * 100), p_purpose => \(draft.purpose),
                    p_counterparty_id => \(counterparty), p_receiving_subdivision_id => \(receiving),
                    p_urgent => \(draft.urgent), p_outside_budget => \(draft.outsideBudget),
                    p_goods_received => \(draft.goodsReceived))
                """)[0].decode(0)
            try c.execute("SELECT invoiceflow.submit_invoice(\(id))")
            return id
        }
    }

    /// A task as the tests look at it (people by short name).
    public struct TaskRow: Sendable, Hashable {
        public var id: Int64
        public var step: String
        public var kind: String
        public var assignee: String
        public var actingFor: String?
        public var outcome: String?
        public var hasDue: Bool
    }

    /// The invoice's tasks in id order.
    public func tasks(of invoice: Int64, openOnly: Bool = false) async throws -> [TaskRow] {
        let rows = try await admin.query(
            """
            SELECT id, step_key, kind::text, assignee_id, acting_for_id, outcome::text, due_at IS NOT NULL AS has_due
            FROM invoiceflow.task WHERE invoice_id = \(invoice) AND (outcome IS NULL OR NOT \(openOnly)) ORDER BY id
            """)
        return try rows.map { row in
            TaskRow(
                id: try row.decode("id"), step: try row.decode("step_key"), kind: try row.decode("kind"),
                assignee: name(of: try row.decode("assignee_id")),
                actingFor: try row.decode("acting_for_id", as: Int64?.self).map { name(of: $0) },
                outcome: try row.decode("outcome"), hasDue: try row.decode("has_due"))
        }
    }

    /// The invoice's stage.
    public func stage(of invoice: Int64) async throws -> String {
        try await admin.query("SELECT stage::text FROM invoiceflow.invoice WHERE id = \(invoice)")[0].decode(0)
    }

    /// Decides a task as the named employee.
    public func decide(
        _ task: Int64, as name: String, _ decision: String = "approve", comment: String? = nil
    ) async throws {
        _ = try await act(as: name) { c in
            try c.execute("SELECT invoiceflow.decide_task(\(task), \(decision), \(comment))")
        }
    }

    /// Records the full payment as the named employee.
    public func pay(_ invoice: Int64, as name: String) async throws {
        _ = try await act(as: name) { c in
            try c.execute(
                """
                SELECT invoiceflow.record_payment(\(invoice),
                    (SELECT amount_minor FROM invoiceflow.invoice WHERE id = \(invoice)), current_date, 'PP-1')
                """)
        }
    }

    /// Records a closing document and closes the invoice as the named employee.
    public func recordDocumentAndClose(_ invoice: Int64, as name: String) async throws {
        try await act(as: name) { c in
            try c.execute("SELECT invoiceflow.record_closing_document(\(invoice), 'upd', 'UPD-1', current_date)")
            try c.execute("SELECT invoiceflow.close_invoice(\(invoice))")
        }
    }

    /// The invoice's audit actions in chain order.
    public func auditActions(of invoice: Int64) async throws -> [String] {
        try await admin.query("SELECT action FROM invoiceflow.audit_log WHERE invoice_id = \(invoice) ORDER BY id")
            .map { try $0.decode(0) }
    }
}
