import Foundation
import InvoiceDomain
import PostgresClient

/// The stored routes as administrators see them: the current version of each type, storing an edited
/// route as the next version, and the lookups `routes simulate` needs to describe a hypothetical invoice.
/// Every call runs on a connection of the configured (administrator) user.
public enum RouteRepository {
    /// The current (highest) version of every type's route, in the order the types were created.
    public static func currentRoutes(on connection: isolated PostgresConnection) throws -> [RouteVersion] {
        let rows = try connection.query(
            """
            SELECT DISTINCT ON (t.id) v.body::text AS body
            FROM invoiceflow.route_version AS v
            JOIN invoiceflow.invoice_type AS t ON t.id = v.invoice_type_id
            ORDER BY t.id, v.version DESC
            """)
        let decoder = JSONDecoder()
        return try rows.map { row in
            try decoder.decode(RouteVersion.self, from: Data(try row.decode("body", as: String.self).utf8))
        }
    }

    /// The codes of every invoice type the database knows.
    public static func invoiceTypes(on connection: isolated PostgresConnection) throws -> [InvoiceTypeCode] {
        try connection.query("SELECT code FROM invoiceflow.invoice_type ORDER BY code").map {
            InvoiceTypeCode(try $0.decode("code", as: String.self))
        }
    }

    /// Stores `route` as the next version of its type, which must currently be at `replacing` (`nil`:
    /// none yet); returns the new version number. Fails with IF006 when someone stored a version meanwhile.
    public static func store(_ route: RouteVersion, replacing: Int?, on connection: isolated PostgresConnection)
        throws -> Int
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(route), as: UTF8.self)
        let replaces = replacing.map(Int32.init)
        return try connection.query("SELECT invoiceflow.store_route_version(\(json)::jsonb, \(replaces))")[0]
            .decode(0, as: Int.self)
    }

    /// The employee whose login role is `login`, with the department and subdivision of their first
    /// current assignment (what a new invoice of theirs would be charged to); `nil` if unknown.
    public static func initiator(login: String, on connection: isolated PostgresConnection) throws
        -> (employee: EmployeeID, department: DepartmentID?, subdivision: SubdivisionID?)?
    {
        let rows = try connection.query(
            """
            SELECT e.id, a.department_id, a.subdivision_id
            FROM invoiceflow.employee AS e
            LEFT JOIN LATERAL (SELECT a.department_id, a.subdivision_id FROM invoiceflow.assignment AS a
                               WHERE a.employee_id = e.id AND a.valid @> now() ORDER BY a.id LIMIT 1) AS a ON true
            WHERE e.login_role = \(login)
            """)
        guard let row = rows.first else { return nil }
        return (
            EmployeeID(try row.decode("id", as: Int64.self)),
            try row.decode("department_id", as: Int64?.self).map(DepartmentID.init),
            try row.decode("subdivision_id", as: Int64?.self).map(SubdivisionID.init)
        )
    }

    /// The id of the subdivision with this code; `nil` if unknown.
    public static func subdivision(code: String, on connection: isolated PostgresConnection) throws -> SubdivisionID? {
        try connection.query("SELECT id FROM invoiceflow.subdivision WHERE code = \(code)").first.map {
            SubdivisionID(try $0.decode("id", as: Int64.self))
        }
    }
}
