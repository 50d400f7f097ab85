import Foundation
import InvoiceDomain
import InvoiceStore
import Logging
import PostgresClient

extension RouteAdministration {
    /// The invoice `routes simulate` plans: a stored one, or a hypothetical one described by its facts.
    public enum SimulatedInvoice: Sendable, Hashable {
        /// A registered invoice: its own facts and its pinned route (the current one while unpinned).
        case stored(id: Int64)
        /// An invoice that does not exist, on the type's current route.
        case hypothetical(HypotheticalInvoice)
    }

    /// The facts of a hypothetical invoice, as the command line gives them.
    public struct HypotheticalInvoice: Sendable, Hashable {
        /// The invoice type.
        public var type: InvoiceTypeCode
        /// The amount.
        public var amount: Money
        /// The initiator's login role.
        public var initiatorLogin: String
        /// The paying subdivision's code; the initiator's own subdivision when `nil`.
        public var payingSubdivision: String?
        /// The receiving subdivision's code (intercompany).
        public var receivingSubdivision: String?
        /// The flags that hold.
        public var flags: Set<InvoiceFlag>
        /// The prepaid share in basis points.
        public var prepaymentBasisPoints: Int

        /// Describes a hypothetical invoice.
        public init(
            type: InvoiceTypeCode, amount: Money, initiatorLogin: String, payingSubdivision: String? = nil,
            receivingSubdivision: String? = nil, flags: Set<InvoiceFlag> = [], prepaymentBasisPoints: Int = 0
        ) {
            self.type = type
            self.amount = amount
            self.initiatorLogin = initiatorLogin
            self.payingSubdivision = payingSubdivision
            self.receivingSubdivision = receivingSubdivision
            self.flags = flags
            self.prepaymentBasisPoints = prepaymentBasisPoints
        }
    }

    /// A plan and its explanation with people named (full name and login) instead of by id.
    public struct Simulation: Sendable, Hashable {
        /// The plan.
        public var plan: RoutePlan
        /// The invoice facts it was made for.
        public var facts: InvoiceFacts
        /// `plan.explanation` with every `employee#N` replaced by the person's name and login.
        public var explanation: String
    }

    /// Plans the invoice on its route with the company structure as of now, as the router would.
    public static func simulate(
        _ invoice: SimulatedInvoice, configuration: PostgresConfiguration, logger: Logger
    ) async throws -> Simulation {
        try await withPreparedConnection(configuration, logger: logger) { connection in
            try await connection.transaction { connection in
                let route: RouteVersion
                let facts: InvoiceFacts
                switch invoice {
                case .stored(let id):
                    let state = try RoutingStore.state(of: id, on: connection)
                    guard let stored = state.route else { throw RouteAdministrationError.noRoute(state.type) }
                    (route, facts) = (stored, state.facts)
                case .hypothetical(let invoice):
                    guard
                        let current = try RouteRepository.currentRoutes(on: connection).first(where: {
                            $0.type == invoice.type
                        })
                    else { throw RouteAdministrationError.noRoute(invoice.type) }
                    route = current
                    facts = try hypotheticalFacts(invoice, on: connection)
                }
                let snapshot = try RoutingStore.orgSnapshot(on: connection)
                let plan: RoutePlan
                do {
                    plan = try route.plan(for: facts, in: snapshot)
                } catch {
                    throw RouteAdministrationError.evaluation("\(error)")
                }
                let people = try employeeNames(on: connection)
                let header = naming(describe(facts), people: people)
                return Simulation(
                    plan: plan, facts: facts, explanation: header + "\n" + naming(plan.explanation, people: people))
            }
        }
    }

    /// The facts of a hypothetical invoice, with logins and codes looked up.
    static func hypotheticalFacts(_ invoice: HypotheticalInvoice, on connection: isolated PostgresConnection) throws
        -> InvoiceFacts
    {
        guard let initiator = try RouteRepository.initiator(login: invoice.initiatorLogin, on: connection) else {
            throw RouteAdministrationError.unknownLogin(invoice.initiatorLogin)
        }
        guard let department = initiator.department, let ownSubdivision = initiator.subdivision else {
            throw RouteAdministrationError.initiatorWithoutDepartment(invoice.initiatorLogin)
        }
        func subdivision(_ code: String) throws -> SubdivisionID {
            guard let id = try RouteRepository.subdivision(code: code, on: connection) else {
                throw RouteAdministrationError.unknownSubdivision(code)
            }
            return id
        }
        var flags = invoice.flags
        let receiving = try invoice.receivingSubdivision.map(subdivision)
        // The database derives the intercompany flag from a receiving subdivision; so does the simulation.
        if receiving != nil { flags.insert(.intercompany) }
        return InvoiceFacts(
            type: invoice.type, amount: invoice.amount, flags: flags,
            prepaymentBasisPoints: invoice.prepaymentBasisPoints, initiator: initiator.employee,
            initiatorDepartment: department,
            payingSubdivision: try invoice.payingSubdivision.map(subdivision) ?? ownSubdivision,
            receivingSubdivision: receiving)
    }

    /// One line naming the facts the plan depends on, so a reader can check the simulated invoice.
    static func describe(_ facts: InvoiceFacts) -> String {
        var parts = [
            "invoice \(facts.type) \(facts.amount.plainText)", "initiator \(facts.initiator)",
            "charged to \(facts.initiatorDepartment)", "paid by \(facts.payingSubdivision)",
        ]
        if let receiving = facts.receivingSubdivision { parts.append("paid to \(receiving)") }
        if facts.prepaymentBasisPoints > 0 { parts.append("prepaid \(facts.prepaymentBasisPoints / 100) %") }
        if !facts.flags.isEmpty { parts.append("flags " + facts.flags.sorted().map(\.rawValue).joined(separator: ",")) }
        return parts.joined(separator: ", ")
    }

    /// Every employee's "Full Name (login)" by id, for readable plans.
    static func employeeNames(on connection: isolated PostgresConnection) throws -> [Int64: String] {
        var names: [Int64: String] = [:]
        for row in try connection.query("SELECT id, full_name, login_role::text AS login FROM invoiceflow.employee") {
            let login = try row.decode("login", as: String?.self)
            names[try row.decode("id", as: Int64.self)] =
                try row.decode("full_name", as: String.self) + (login.map { " (\($0))" } ?? "")
        }
        return names
    }

    /// `text` with each `employee#N` replaced by the name of employee N (kept as is when unknown).
    static func naming(_ text: String, people: [Int64: String]) -> String {
        var result = ""
        var rest = Substring(text)
        while let range = rest.range(of: "employee#") {
            result += rest[..<range.lowerBound]
            let digits = rest[range.upperBound...].prefix(while: \.isNumber)
            if let id = Int64(digits), let name = people[id] {
                result += name
            } else {
                result += rest[range] + digits
            }
            rest = rest[range.upperBound...].dropFirst(digits.count)
        }
        return result + rest
    }
}
