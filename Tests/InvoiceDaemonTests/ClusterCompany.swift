import Foundation
import InvoiceStore
import InvoiceTestSupport
import PostgresClient

/// The company of ``RouterTestCompany`` on a server of the test's own (a ``TestServer`` or a
/// ``ReplicatedCluster``), which the test may crash, restart or fail over; the shared test server must never
/// be. Every call opens its own connection, so a test can carry on across a server restart by retrying.
struct ClusterCompany: Sendable {
    /// Superuser conninfo of the company's database (multi-host for a failover pair).
    let conninfo: String
    let employees: [String: Int64]
    let subdivision: Int64
    let counterparty: Int64

    /// The database the company lives in.
    static let databaseName = "invoiceflow"

    /// Creates the database `invoiceflow` on `server` (superuser conninfo of its maintenance database; nil
    /// when `conninfo`'s database exists already), applies `migrations` (all of them by default, or an
    /// earlier prefix for an upgrade test) and stores the head-office staff of ``RouterTestCompany/staff``.
    static func create(server: String?, conninfo: String, migrations: [Migration]? = nil) async throws
        -> ClusterCompany
    {
        if let server {
            let maintenance = try await PostgresConnection.connect(
                try PostgresConfiguration(server), logger: TestPostgres.silentLogger)
            try await maintenance.execute(
                "CREATE DATABASE \(identifier: databaseName) TEMPLATE template0 ENCODING 'UTF8'")
            await maintenance.close()
        }
        let admin = try await PostgresConnection.connect(
            try PostgresConfiguration(conninfo), logger: TestPostgres.silentLogger)
        do {
            let seeded = try await seed(on: admin, migrations: migrations)
            await admin.close()
            return ClusterCompany(
                conninfo: conninfo, employees: seeded.0, subdivision: seeded.1, counterparty: seeded.2)
        } catch {
            await admin.close()
            throw error
        }
    }

    private static func newID(_ c: isolated PostgresConnection, _ query: PostgresQuery) throws -> Int64 {
        try c.query(query)[0].decode(0)
    }

    private static func seed(on admin: PostgresConnection, migrations: [Migration]?) async throws
        -> ([String: Int64], Int64, Int64)
    {
        _ = try await Migrator(
            migrations: try migrations ?? InvoiceSchema.migrations(), logger: TestPostgres.silentLogger
        ).migrate(on: admin)
        return try await admin.transaction { c -> ([String: Int64], Int64, Int64) in
            let ho = try newID(
                c,
                """
                INSERT INTO invoiceflow.subdivision (code, name, inn, kpp, bik, settlement_account, correspondent_account)
                VALUES ('head_office', 'ООО «Медтех Групп»', '7701000019', '770101001', '044525225',
                        '40702810100000000101', '30101810400000000225') RETURNING id
                """)
            let management = try newID(
                c,
                "INSERT INTO invoiceflow.department (subdivision_id, name) VALUES (\(ho), 'Management') RETURNING id")
            var departments = ["Management": management]
            for name in ["Finance", "Purchasing", "Logistics", "Office"] {
                departments[name] = try newID(
                    c,
                    """
                    INSERT INTO invoiceflow.department (subdivision_id, parent_id, name)
                    VALUES (\(ho), \(management), \(name)) RETURNING id
                    """)
            }
            let employees = try RouterTestCompany.hire(
                RouterTestCompany.staff.filter { $0.1 == "ho" }, departments: departments, subdivisions: ["ho": ho],
                on: c)
            let counterparty = try newID(
                c,
                """
                INSERT INTO invoiceflow.counterparty (name, inn, kpp, bik, settlement_account, correspondent_account)
                VALUES ('ООО «МедСнаб»', '5004000040', '500401001', '044525593', '40702810700000000101',
                        '30101810200000000593') RETURNING id
                """)
            return (employees, ho, counterparty)
        }
    }

    /// The daemon's login (people act through it with `invoiceflow.acting_employee`).
    var daemonConninfo: String { conninfo + " user=invoiceflow_daemon" }

    func employee(_ name: String) -> Int64 { employees[name]! }

    func name(of id: Int64) -> String { employees.first { $0.value == id }?.key ?? "#\(id)" }

    /// Runs `body` on a new connection (superuser, or the daemon's login), closing it afterwards.
    func withConnection<T: Sendable>(
        asDaemon: Bool = false, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection = try await PostgresConnection.connect(
            try PostgresConfiguration(asDaemon ? daemonConninfo : conninfo), logger: TestPostgres.silentLogger)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Creates and submits an operating-expenses invoice (approved by olga, paid by the two accountants)
    /// as `initiator`; returns its id.
    func submit(initiator: String, roubles: Int64 = 700) async throws -> Int64 {
        let (acting, paying, counterparty) = (employee(initiator), subdivision, self.counterparty)
        return try await withConnection(asDaemon: true) { connection in
            try await connection.transaction(retry: .never) { c in
                try c.execute("SELECT set_config('invoiceflow.acting_employee', \(String(acting)), true)")
                let id: Int64 = try c.query(
                    """
                    SELECT invoiceflow.create_invoice(
                        p_invoice_type => 'operating_expenses', p_paying_subdivision_id => \(paying),
                        p_supplier_invoice_number => \(UUID().uuidString.prefix(8).description),
                        p_supplier_invoice_date => current_date, p_amount_minor => \(roubles * 100),
                        p_purpose => 'cluster test', p_counterparty_id => \(counterparty))
                    """)[0].decode(0)
                try c.execute("SELECT invoiceflow.submit_invoice(\(id))")
                return id
            }
        }
    }

    /// Approves, as olga, every approval task open for her; returns how many.
    @discardableResult
    func approveAllAsOlga() async throws -> Int {
        let olga = employee("olga")
        return try await withConnection(asDaemon: true) { connection in
            let open: [Int64] = try await connection.transaction { c in
                try c.execute("SELECT set_config('invoiceflow.acting_employee', \(String(olga)), true)")
                return try c.query(
                    """
                    SELECT t.id FROM invoiceflow.task t
                    WHERE t.outcome IS NULL AND t.kind = 'approve' AND t.assignee_id = \(olga)
                    """
                ).map { try $0.decode(0) }
            }
            for task in open {
                try await connection.transaction(retry: .never) { c in
                    try c.execute("SELECT set_config('invoiceflow.acting_employee', \(String(olga)), true)")
                    try c.execute("SELECT invoiceflow.decide_task(\(task), 'approve', NULL)")
                }
            }
            return open.count
        }
    }

    /// Each invoice's tasks as `kind:assignee`, sorted, keyed by invoice id.
    func tasksByInvoice() async throws -> [Int64: [String]] {
        let rows = try await withConnection { connection in
            try await connection.query(
                "SELECT invoice_id, kind::text, assignee_id FROM invoiceflow.task ORDER BY invoice_id, kind, assignee_id"
            ).map { row in
                (
                    try row.decode(0, as: Int64.self), try row.decode(1, as: String.self),
                    try row.decode(2, as: Int64.self)
                )
            }
        }
        var tasks: [Int64: [String]] = [:]
        for (invoice, kind, assignee) in rows { tasks[invoice, default: []].append("\(kind):\(name(of: assignee))") }
        return tasks
    }

    /// Work items not done, or parked, that an administrator would have to look at.
    func unfinishedWorkItems() async throws -> Int {
        try await withConnection { connection in
            try await connection.query(
                "SELECT count(*)::int FROM invoiceflow_private.work_item WHERE done_at IS NULL OR parked_at IS NOT NULL"
            )[0].decode(0)
        }
    }

    /// The unfinished work items, one line each, for a failure message.
    func unfinishedWorkItemsDescription() async throws -> String {
        try await withConnection { connection in
            try await connection.query(
                """
                SELECT format('item %s invoice %s %s attempts=%s run_after=%s locked_until=%s by=%s parked=%s error=%s',
                              id, invoice_id, kind, attempts, run_after, locked_until, locked_by, parked_at, last_error)
                FROM invoiceflow_private.work_item WHERE done_at IS NULL OR parked_at IS NOT NULL ORDER BY id
                """
            ).map { try $0.decode(0, as: String.self) }.joined(separator: "\n")
        }
    }

    /// The state every operating-expenses invoice of 700 roubles reaches once olga approved: her one
    /// approval and one payment task for each accountant.
    static let approvedAndAwaitingPayment = ["approve:olga", "pay:accountant", "pay:accountant2"]
}
