import Foundation
import Logging
import PostgresClient

/// The audit log's hash chain as seen from outside the database: verification and anchoring.
///
/// An anchor is the chain head (row id and hash) written to a file kept away from the database; a later
/// verification against it proves the history up to that row was not rewritten, even by someone able to
/// recompute every hash in the database.
public enum AuditChain {
    /// The result of one verification.
    public struct Verification: Sendable, Equatable {
        /// Whether every link checked out (and the anchor, when given, matched).
        public var intact: Bool
        /// How many rows were checked.
        public var checkedRows: Int64
        /// The first row whose link is broken, when `intact` is false.
        public var firstBrokenID: Int64?
        /// The chain head's row id, if the log has rows.
        public var headID: Int64?
        /// The chain head's hash (hex).
        public var headHash: String?
    }

    /// A chain head saved for safekeeping.
    public struct Anchor: Codable, Sendable, Equatable {
        /// The row id of the chain head when anchored.
        public var id: Int64
        /// Its hash, hex.
        public var hash: String
        /// When the anchor was taken (ISO 8601).
        public var anchoredAt: String
    }

    /// Checks every link of the chain, and the anchored row's hash when `anchor` is given.
    public static func verify(
        _ configuration: PostgresConfiguration, anchor: Anchor?, logger: Logger
    ) async throws -> Verification {
        let connection = try await PostgresConnection.connect(configuration, logger: logger)
        do {
            let rows: [PostgresRow]
            if let anchor {
                rows = try await connection.query(
                    """
                    SELECT ok, checked, first_broken_id, head_id, head_hash
                    FROM invoiceflow.audit_verify(\(anchor.id), pg_catalog.decode(\(anchor.hash), 'hex'))
                    """)
            } else {
                rows = try await connection.query(
                    "SELECT ok, checked, first_broken_id, head_id, head_hash FROM invoiceflow.audit_verify()")
            }
            await connection.close()
            let row = rows[0]
            return Verification(
                intact: try row.decode("ok", as: Bool.self),
                checkedRows: try row.decode("checked", as: Int64.self),
                firstBrokenID: try row.decode("first_broken_id", as: Int64?.self),
                headID: try row.decode("head_id", as: Int64?.self),
                headHash: try row.decode("head_hash", as: String?.self))
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Reads the chain head, to be written to a file by the caller.
    public static func anchor(_ configuration: PostgresConfiguration, logger: Logger) async throws -> Anchor? {
        let connection = try await PostgresConnection.connect(configuration, logger: logger)
        do {
            let rows = try await connection.query(
                """
                SELECT id, hash,
                       pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at
                FROM invoiceflow.audit_head()
                """)
            await connection.close()
            guard let row = rows.first, let id = try row.decode("id", as: Int64?.self) else { return nil }
            return Anchor(
                id: id, hash: try row.decode("hash", as: String.self), anchoredAt: try row.decode("at", as: String.self)
            )
        } catch {
            await connection.close()
            throw error
        }
    }
}
