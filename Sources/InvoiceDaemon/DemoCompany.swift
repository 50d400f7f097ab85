import PostgresClient

/// The company `invoiceflow demo` creates: a medical-equipment wholesaler (SCENARIOS.md, last
/// paragraph) with a head office and three subdivisions, every position the default routes name, a
/// vacant head of department, substitutions that are current, expired and in the future, and a dozen
/// counterparties. Everything is data here; ``install(on:)`` writes it through the admin commands, as
/// the demo's administrator, so the demo exercises the same write path as a real deployment.
public struct DemoCompany: Sendable {
    /// A subdivision (legal entity) with its requisites' seeds.
    public struct Subdivision: Sendable {
        /// Stable code, as routes and psql queries name it.
        public var code: String
        /// Legal name.
        public var name: String
        /// The first four digits of its ИНН and КПП.
        public var taxOffice: String
        /// Seed of its ИНН.
        public var serial: Int
        /// Its bank's БИК.
        public var bik: String
    }

    /// A department of a subdivision.
    public struct Department: Sendable {
        /// How people and the script refer to it.
        public var key: String
        /// The subdivision's code.
        public var subdivision: String
        /// Display name.
        public var name: String
        /// The department above it in the same subdivision, if any.
        public var parent: String?
    }

    /// An employee with their post and database login.
    public struct Person: Sendable {
        /// Short key; the login role is `demo_<key>`.
        public var key: String
        /// Full name.
        public var fullName: String
        /// The department's key.
        public var department: String
        /// The position's code (`invoiceflow.position`).
        public var position: String
        /// Language of their mail.
        public var locale = "ru"
        /// Days ago the assignment ended (a former holder); nil for a current one.
        public var leftDaysAgo: Int? = nil
        /// Read-only access to everything (the auditor).
        public var auditor = false

        /// The login role this person connects as.
        public var loginRole: String { DemoCompany.rolePrefix + key }
    }

    /// A deputy for an absent employee, `from`...`until` days relative to today.
    public struct Substitution: Sendable {
        /// Key of the absent employee.
        public var absent: String
        /// Key of the deputy.
        public var deputy: String
        /// Start, in days from now (negative: in the past).
        public var from: Int
        /// End, in days from now.
        public var until: Int
        /// Why (vacation, business trip).
        public var reason: String
        /// What the demo's output calls it.
        public var label: String
    }

    /// An external supplier or payee.
    public struct Counterparty: Sendable {
        /// How the script refers to it.
        public var key: String
        /// Legal name.
        public var name: String
        /// Tax office of its ИНН and КПП.
        public var taxOffice: String
        /// Seed of its ИНН and account.
        public var serial: Int
        /// Its bank's БИК.
        public var bik: String
        /// An individual entrepreneur (12-digit ИНН, no КПП).
        public var entrepreneur = false
    }

    /// Every demo login role starts with this, so the demo's people are easy to find and tell apart.
    public static let rolePrefix = "demo_"
    /// The demo's administrator login (not an employee: an admin may not grant authority to themself).
    public static let adminRole = "demo_admin"

    /// The subdivisions; the first is the head office (it holds the CEO).
    public var subdivisions: [Subdivision]
    /// Departments, parents before children.
    public var departments: [Department]
    /// The staff.
    public var people: [Person]
    /// Deputies.
    public var substitutions: [Substitution]
    /// Suppliers and payees.
    public var counterparties: [Counterparty]

    /// The person with this key.
    public func person(_ key: String) -> Person {
        guard let person = people.first(where: { $0.key == key }) else { preconditionFailure("no demo person \(key)") }
        return person
    }
}

extension DemoCompany.Person {
    /// The database groups the person's login role is in, beyond `invoiceflow_employee`.
    var groups: [String] {
        if auditor { return ["invoiceflow_auditor"] }
        switch position {
        case "treasurer": return ["invoiceflow_employee", "invoiceflow_treasurer"]
        case "accountant", "document_clerk": return ["invoiceflow_employee", "invoiceflow_accountant"]
        case "chief_accountant": return ["invoiceflow_employee", "invoiceflow_chief_accountant"]
        case "cfo": return ["invoiceflow_employee", "invoiceflow_cfo"]
        case "payroll_accountant": return ["invoiceflow_employee", "invoiceflow_payroll"]
        default: return ["invoiceflow_employee"]
        }
    }
}

/// The ids the database gave the demo company's rows.
public struct DemoDirectory: Sendable {
    /// Employee id by person key.
    public var employees: [String: Int64]
    /// Subdivision id by code.
    public var subdivisions: [String: Int64]
    /// Counterparty id by key.
    public var counterparties: [String: Int64]

    /// The employee id of a person.
    public func employee(_ key: String) -> Int64 {
        guard let id = employees[key] else { preconditionFailure("no demo employee \(key)") }
        return id
    }
}

/// Why the demo cannot use the database it was given.
public enum DemoError: Error, CustomStringConvertible, Sendable {
    /// Acting as each person needs SET SESSION AUTHORIZATION, which only a superuser may use.
    case notSuperuser(user: String)
    /// The database holds another company; the demo does not mix its people into real data.
    case foreignCompany(subdivisions: Int)
    /// The router parked an invoice of the scenario.
    case routingParked(invoice: Int64, reason: String)
    /// The scenario waited for something that did not happen in time.
    case timedOut(String)
    /// The scenario found the database in a state its script did not expect.
    case unexpected(String)

    /// A sentence for the person running the demo.
    public var description: String {
        switch self {
        case .notSuperuser(let user):
            return
                "invoiceflow demo acts as each employee with SET SESSION AUTHORIZATION and creates their login roles, "
                + "which needs a superuser; INVOICEFLOW_DATABASE_URL connects as \(user), who is not one. "
                + "Connect as a superuser, or unset INVOICEFLOW_DATABASE_URL to use a private cluster."
        case .foreignCompany(let count):
            return "this database already holds a company that is not the demo's (\(count) subdivisions); "
                + "the demo runs only on an empty database or on its own company. "
                + "Use a fresh INVOICEFLOW_DATA_DIR or another database."
        case .routingParked(let invoice, let reason):
            return "the router parked demo invoice \(invoice): \(reason)"
        case .timedOut(let what): return "the demo timed out waiting for \(what)"
        case .unexpected(let what): return "the demo found something it did not expect: \(what)"
        }
    }
}

extension DemoCompany {
    /// What the database holds before the demo starts.
    enum Presence: Equatable {
        case empty
        case demo
        case other(subdivisions: Int)
    }

    /// Whether the database is empty, already holds this demo company, or holds another company.
    func presence(on connection: isolated PostgresConnection) throws -> Presence {
        let codes: [String] = try connection.query("SELECT code FROM invoiceflow.subdivision ORDER BY id")
            .map { try $0.decode(0) }
        if codes.isEmpty { return .empty }
        let demoCodes = subdivisions.map(\.code)
        let ceoRoles = people.filter { $0.position == "ceo" }.map(\.loginRole)
        let demoHeadOffice = try connection.query(
            "SELECT count(*)::int FROM invoiceflow.employee WHERE login_role::text = ANY(\(ceoRoles))")
        if Set(codes).isSubset(of: Set(demoCodes)), try demoHeadOffice[0].decode(0, as: Int.self) == 1 {
            return .demo
        }
        return .other(subdivisions: codes.count)
    }

    /// Creates the login roles (cluster-wide: kept when they exist) and, as the demo administrator in
    /// one transaction, the subdivisions, departments, counterparties, employees, assignments and
    /// substitutions. The connection must be a superuser's.
    func install(on connection: isolated PostgresConnection) async throws -> DemoDirectory {
        for (role, groups) in [(Self.adminRole, ["invoiceflow_admin"])] + people.map({ ($0.loginRole, $0.groups) }) {
            let exists = try connection.query("SELECT count(*)::int FROM pg_catalog.pg_roles WHERE rolname = \(role)")
            if try exists[0].decode(0, as: Int.self) == 0 {
                try connection.execute("CREATE ROLE \(identifier: role) LOGIN")
            }
            for group in groups { try connection.execute("GRANT \(identifier: group) TO \(identifier: role)") }
        }
        return try await connection.transaction(retry: .never) { c in
            try c.execute("SET LOCAL SESSION AUTHORIZATION \(identifier: Self.adminRole)")
            var directory = DemoDirectory(employees: [:], subdivisions: [:], counterparties: [:])
            for (index, s) in subdivisions.enumerated() {
                let bik = s.bik
                directory.subdivisions[s.code] = try c.query(
                    """
                    SELECT invoiceflow.add_subdivision(\(s.code), \(s.name),
                        \(DemoRequisites.organisationINN(taxOffice: s.taxOffice, serial: s.serial)),
                        \(DemoRequisites.kpp(taxOffice: s.taxOffice)), \(bik),
                        \(DemoRequisites.settlementAccount(bik: bik, serial: 1_000 + index)),
                        \(DemoRequisites.correspondentAccount(bik: bik)))
                    """)[0].decode(0)
            }
            var departments: [String: Int64] = [:]
            for d in self.departments {
                let parent = d.parent.map { departments[$0]! }
                departments[d.key] = try c.query(
                    """
                    SELECT invoiceflow.add_department(\(directory.subdivisions[d.subdivision]!), \(d.name), \(parent))
                    """)[0].decode(0)
            }
            for (index, p) in counterparties.enumerated() {
                let inn =
                    p.entrepreneur
                    ? DemoRequisites.entrepreneurINN(taxOffice: p.taxOffice, serial: p.serial)
                    : DemoRequisites.organisationINN(taxOffice: p.taxOffice, serial: p.serial)
                let kpp: String? = p.entrepreneur ? nil : DemoRequisites.kpp(taxOffice: p.taxOffice)
                directory.counterparties[p.key] = try c.query(
                    """
                    SELECT invoiceflow.add_counterparty(\(p.name), \(inn), \(kpp), \(p.bik),
                        \(DemoRequisites.settlementAccount(bik: p.bik, serial: 20_000 + index)),
                        \(DemoRequisites.correspondentAccount(bik: p.bik)))
                    """)[0].decode(0)
            }
            for p in people {
                let id: Int64 = try c.query(
                    """
                    SELECT invoiceflow.hire_employee(\(p.fullName), \(p.key + "@medtech.example"), \(p.loginRole),
                        \(p.locale))
                    """)[0].decode(0)
                directory.employees[p.key] = id
                // A former holder joined three years ago and left `leftDaysAgo` days ago; everyone else
                // holds the post from a year ago on.
                let from = p.leftDaysAgo == nil ? 365 : 3 * 365
                let until = p.leftDaysAgo.map { -$0 }
                try c.execute(
                    """
                    SELECT invoiceflow.assign_employee(\(id), \(departments[p.department]!), \(p.position),
                        now() - (interval '1 day' * \(from)),
                        now() + (interval '1 day' * \(until)))
                    """)
            }
            for s in substitutions {
                try c.execute(
                    """
                    SELECT invoiceflow.add_substitution(\(directory.employee(s.absent)), \(directory.employee(s.deputy)),
                        now() + (interval '1 day' * \(s.from)), now() + (interval '1 day' * \(s.until)), \(s.reason))
                    """)
            }
            return directory
        }
    }

    /// The ids of an installed demo company, looked up by its login roles and codes.
    func directory(on connection: isolated PostgresConnection) throws -> DemoDirectory {
        var directory = DemoDirectory(employees: [:], subdivisions: [:], counterparties: [:])
        for row in try connection.query("SELECT id, login_role::text FROM invoiceflow.employee") {
            let role: String? = try row.decode(1)
            if let role, role.hasPrefix(Self.rolePrefix) {
                directory.employees[String(role.dropFirst(Self.rolePrefix.count))] = try row.decode(0)
            }
        }
        for row in try connection.query("SELECT id, code FROM invoiceflow.subdivision") {
            directory.subdivisions[try row.decode(1)] = try row.decode(0)
        }
        for row in try connection.query("SELECT id, name FROM invoiceflow.counterparty") {
            let name: String = try row.decode(1)
            if let key = counterparties.first(where: { $0.name == name })?.key {
                directory.counterparties[key] = try row.decode(0)
            }
        }
        return directory
    }
}
