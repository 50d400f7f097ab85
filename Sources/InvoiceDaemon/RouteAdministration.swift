import Foundation
import InvoiceDomain
import InvoiceStore
import Logging
import PostgresClient

/// What `invoiceflow routes export | import | simulate` do, apart from argument parsing: reading the
/// stored routes as a route file, importing an edited file as new versions, and planning an invoice.
///
/// Each call opens one connection as the configured user (an administrator; the superuser of a private
/// cluster) and first stores the built-in default routes for types that have none, as the daemon does at
/// start, so that a fresh database exports and simulates the defaults.
public enum RouteAdministration {
    /// What an import did (or, in a dry run, would do) to one type's route.
    public struct TypeOutcome: Sendable, Hashable, CustomStringConvertible {
        /// The invoice type.
        public var type: InvoiceTypeCode
        /// The version that was current before, if any.
        public var previousVersion: Int?
        /// The version stored; `nil` when unchanged or in a dry run.
        public var storedVersion: Int?
        /// The differences from the previous version; empty when unchanged or new.
        public var changes: [RouteChange]

        /// Whether the file's route equals the stored one.
        public var isUnchanged: Bool { previousVersion != nil && changes.isEmpty }

        /// A readable report: the headline, then one indented line per change.
        public var description: String {
            let headline: String
            if isUnchanged {
                headline = "\(type): unchanged (version \(previousVersion!))"
            } else if let storedVersion {
                headline = "\(type): stored version \(storedVersion)" + (previousVersion.map { " (was \($0))" } ?? "")
            } else {
                headline = "\(type): would store version \((previousVersion ?? 0) + 1) (dry run)"
            }
            let changeLines = previousVersion == nil ? ["  new route"] : changes.map { "  \($0)" }
            return ([headline] + (isUnchanged ? [] : changeLines)).joined(separator: "\n")
        }
    }

    /// The current route of every type (or of `type` only) as a route file: sorted keys, indented, so
    /// files diff cleanly.
    public static func export(
        type: InvoiceTypeCode?, configuration: PostgresConfiguration, logger: Logger
    ) async throws -> String {
        let routes = try await withPreparedConnection(configuration, logger: logger) { connection in
            try await connection.transaction { try RouteRepository.currentRoutes(on: $0) }
        }
        let selected = type.map { code in routes.filter { $0.type == code } } ?? routes
        if let type, selected.isEmpty { throw RouteAdministrationError.noRoute(type) }
        return try encodeFile(RouteFile(routes: selected))
    }

    /// Encodes a route file the way `export` writes it.
    public static func encodeFile(_ file: RouteFile) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(file), as: UTF8.self) + "\n"
    }

    /// Decodes and validates a route file, refusing it with every problem found, each naming the type,
    /// step and field concerned.
    public static func parse(_ data: Data) throws(RouteFileRejection) -> RouteFile {
        let file: RouteFile
        do {
            file = try JSONDecoder().decode(RouteFile.self, from: data)
        } catch let error as DecodingError {
            throw RouteFileRejection(problems: [RouteFileRejection.describe(error, in: data)])
        } catch {
            throw RouteFileRejection(problems: ["not a route file: \(error)"])
        }
        let problems = file.problems
        if !problems.isEmpty { throw RouteFileRejection(problems: problems) }
        return file
    }

    /// Imports a validated route file in one transaction: a type whose route changed gets a new version,
    /// an unchanged type is left alone. With `dryRun`, reports the same and stores nothing.
    public static func importFile(
        _ file: RouteFile, dryRun: Bool, configuration: PostgresConfiguration, logger: Logger
    ) async throws -> [TypeOutcome] {
        let outcomes = try await withPreparedConnection(configuration, logger: logger) { connection in
            try await connection.transaction { connection in
                let known = Set(try RouteRepository.invoiceTypes(on: connection))
                let unknown = file.routes.map(\.type).filter { !known.contains($0) }
                if !unknown.isEmpty {
                    throw RouteFileRejection(
                        problems: unknown.map { "\($0): unknown invoice type (known: \(known.sorted()))" })
                }
                let current = try RouteRepository.currentRoutes(on: connection)
                var outcomes: [TypeOutcome] = []
                for route in file.routes {
                    let stored = current.first { $0.type == route.type }
                    var outcome = TypeOutcome(
                        type: route.type, previousVersion: stored?.version, storedVersion: nil,
                        changes: stored.map { route.changes(from: $0) } ?? [])
                    if !outcome.isUnchanged && !dryRun {
                        outcome.storedVersion = try RouteRepository.store(
                            route, replacing: stored?.version, on: connection)
                    }
                    outcomes.append(outcome)
                }
                return outcomes
            }
        }
        for outcome in outcomes where outcome.storedVersion != nil {
            logger.notice(
                "route version stored",
                metadata: ["type": "\(outcome.type)", "version": "\(outcome.storedVersion!)"])
        }
        return outcomes
    }

    /// Opens a connection, stores the defaults for types without a route (skipped when the user may not
    /// run the daemon's install function: then the database's own routes are all there is), runs `body`.
    static func withPreparedConnection<T: Sendable>(
        _ configuration: PostgresConfiguration, logger: Logger,
        _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection = try await PostgresConnection.connect(
            configuration.setting("application_name", "invoiceflow-routes"), logger: logger)
        do {
            do {
                let routes = RouteVersion.defaults
                try await connection.transaction { try RoutingStore.installRoutes(routes, on: $0) }
            } catch let error as PostgresError where error.code == "42501" {
                logger.debug("default routes not installed: not allowed", metadata: ["error": "\(error)"])
            }
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }
}

/// A route file that cannot be imported, with every problem found; nothing was stored.
public struct RouteFileRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// One line per problem, each naming the type, step and field concerned.
    public var problems: [String]

    /// Creates a rejection.
    public init(problems: [String]) { self.problems = problems }

    /// The problems, one per line.
    public var description: String {
        "route file refused, nothing stored:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
    }

    /// A decoding error as a sentence whose path names routes by type and steps by id, e.g.
    /// `supplier_goods: step ceo: condition: …`, looked up in the raw JSON.
    static func describe(_ error: DecodingError, in data: Data) -> String {
        let (path, reason): ([any CodingKey], String)
        switch error {
        case .keyNotFound(let key, let context):
            (path, reason) = (context.codingPath + [key], "is missing")
        case .valueNotFound(_, let context):
            (path, reason) = (context.codingPath, "is null: " + context.debugDescription)
        case .typeMismatch(let type, let context):
            (path, reason) = (context.codingPath, "has the wrong type (expected \(type)): " + context.debugDescription)
        case .dataCorrupted(let context):
            (path, reason) = (context.codingPath, context.debugDescription)
        @unknown default:
            (path, reason) = ([], "\(error)")
        }
        var names: [String] = []
        var node: Any? = try? JSONSerialization.jsonObject(with: data)
        var parentKey = ""
        for key in path {
            if let index = key.intValue {
                let element = (node as? [Any]).flatMap { index < $0.count ? $0[index] : nil }
                let object = element as? [String: Any]
                switch parentKey {
                case "routes":
                    names.append((object?["type"] as? String).map { "\($0)" } ?? "route #\(index + 1)")
                case "steps":
                    names.append("step " + ((object?["id"] as? String) ?? "#\(index + 1)"))
                default:
                    if names.isEmpty { names.append("[\(index)]") } else { names[names.count - 1] += "[\(index)]" }
                }
                node = element
            } else {
                let isContainerOfIndexed = key.stringValue == "routes" || key.stringValue == "steps"
                if !isContainerOfIndexed { names.append(key.stringValue) }
                node = (node as? [String: Any])?[key.stringValue]
                parentKey = key.stringValue
            }
        }
        return names.isEmpty ? reason : names.joined(separator: ": ") + ": " + reason
    }
}

/// A route administration request that cannot be carried out.
public enum RouteAdministrationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No route is stored for the type.
    case noRoute(InvoiceTypeCode)
    /// No employee has this login.
    case unknownLogin(String)
    /// No subdivision has this code.
    case unknownSubdivision(String)
    /// The initiator has no current assignment, so the invoice's department must be given.
    case initiatorWithoutDepartment(String)
    /// The route could not be evaluated for the invoice.
    case evaluation(String)

    /// A sentence for the command line.
    public var description: String {
        switch self {
        case .noRoute(let type): return "no route is stored for invoice type \(type)"
        case .unknownLogin(let login): return "no employee has the login \(login)"
        case .unknownSubdivision(let code): return "no subdivision has the code \(code)"
        case .initiatorWithoutDepartment(let login): return "\(login) holds no position now, so has no department"
        case .evaluation(let reason): return "the route cannot be evaluated: \(reason)"
        }
    }
}
