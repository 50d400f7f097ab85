/// An error reported by PostgreSQL or by libpq, carrying the SQLSTATE so callers match on codes, not text.
///
/// Connection failures detected on the client side get class `08` codes (``SQLState/connectionFailure``,
/// ``SQLState/unableToConnect``); a backend terminated by an administrator gets `57P01`. Check
/// ``SQLState/isConnectionLoss`` to decide whether a connection is still usable.
///
/// ``description`` deliberately leaves out ``detail``: PostgreSQL puts row values there
/// (`Key (email)=(...) already exists`), and descriptions end up in logs.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// The SQLSTATE, e.g. `23505` for a unique violation.
    public var code: SQLState
    /// The primary message, one line.
    public var message: String
    /// Secondary detail; may contain row values.
    public var detail: String?
    /// A suggestion for what to do about the problem.
    public var hint: String?
    /// 1-based character position in ``query`` where the error was found (syntax errors and the like).
    public var position: Int?
    /// The constraint that was violated, if any.
    public var constraint: String?
    /// The table involved, if any.
    public var table: String?
    /// The column involved, if any.
    public var column: String?
    /// The schema of the table involved, if any.
    public var schema: String?
    /// The call stack inside the server (PL/pgSQL function and line) when the error was raised there.
    public var context: String?
    /// The severity as sent by the server (`ERROR`, `FATAL`, `PANIC`), or nil for client-side errors.
    public var severity: String?
    /// The SQL text of the failing statement (never parameter values).
    public var query: String?

    /// Creates an error; used for errors detected on the client side and in tests.
    public init(
        code: SQLState, message: String, detail: String? = nil, hint: String? = nil, position: Int? = nil,
        constraint: String? = nil, table: String? = nil, column: String? = nil, schema: String? = nil,
        context: String? = nil, severity: String? = nil, query: String? = nil
    ) {
        self.code = code
        self.message = message
        self.detail = detail
        self.hint = hint
        self.position = position
        self.constraint = constraint
        self.table = table
        self.column = column
        self.schema = schema
        self.context = context
        self.severity = severity
        self.query = query
    }

    /// "SQLSTATE 23505: duplicate key value violates unique constraint "x" (constraint x)". No detail or
    /// parameter values, so it is safe to log.
    public var description: String {
        var text = "SQLSTATE \(code.rawValue): \(message)"
        if let constraint { text += " (constraint \(constraint))" }
        if let position { text += " (at character \(position))" }
        if let hint { text += " Hint: \(hint)" }
        return text
    }
}

/// A five-character SQLSTATE code, as listed in PostgreSQL's "Error Codes" appendix.
public struct SQLState: Hashable, Sendable, RawRepresentable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    /// The five characters, e.g. `"40001"`.
    public var rawValue: String

    /// Wraps a code; any five-character string is accepted, as servers and extensions add their own.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Allows `SQLState("23505")`.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// Allows `let code: SQLState = "23505"`.
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The code itself.
    public var description: String { rawValue }

    /// The class: the first two characters (`23` integrity constraint violation, `40` transaction rollback).
    public var errorClass: String { String(rawValue.prefix(2)) }

    /// True when the connection is gone or going: class 08, or the server shutting the backend down
    /// (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
    public var isConnectionLoss: Bool {
        errorClass == "08" || self == .adminShutdown || self == .crashShutdown || self == .cannotConnectNow
    }

    /// True for the codes a transaction retry helps with: serialization failure and deadlock.
    public var isTransactionRetryable: Bool {
        self == .serializationFailure || self == .deadlockDetected
    }

    /// 00000
    public static let successfulCompletion: SQLState = "00000"
    /// 08000
    public static let connectionException: SQLState = "08000"
    /// 08001: the client could not establish a connection.
    public static let unableToConnect: SQLState = "08001"
    /// 08003: the connection was already closed.
    public static let connectionDoesNotExist: SQLState = "08003"
    /// 08006: the connection broke during use.
    public static let connectionFailure: SQLState = "08006"
    /// 08P01
    public static let protocolViolation: SQLState = "08P01"
    /// 0A000
    public static let featureNotSupported: SQLState = "0A000"
    /// 21000
    public static let cardinalityViolation: SQLState = "21000"
    /// 22001
    public static let stringDataRightTruncation: SQLState = "22001"
    /// 22003
    public static let numericValueOutOfRange: SQLState = "22003"
    /// 22007
    public static let invalidDatetimeFormat: SQLState = "22007"
    /// 22008
    public static let datetimeFieldOverflow: SQLState = "22008"
    /// 22012
    public static let divisionByZero: SQLState = "22012"
    /// 22021: a byte sequence (such as NUL) the database encoding cannot hold.
    public static let characterNotInRepertoire: SQLState = "22021"
    /// 22023
    public static let invalidParameterValue: SQLState = "22023"
    /// 22P02
    public static let invalidTextRepresentation: SQLState = "22P02"
    /// 23000
    public static let integrityConstraintViolation: SQLState = "23000"
    /// 23001
    public static let restrictViolation: SQLState = "23001"
    /// 23502
    public static let notNullViolation: SQLState = "23502"
    /// 23503
    public static let foreignKeyViolation: SQLState = "23503"
    /// 23505
    public static let uniqueViolation: SQLState = "23505"
    /// 23514
    public static let checkViolation: SQLState = "23514"
    /// 23P01
    public static let exclusionViolation: SQLState = "23P01"
    /// 25001: a transaction is already in progress.
    public static let activeSQLTransaction: SQLState = "25001"
    /// 25006
    public static let readOnlySQLTransaction: SQLState = "25006"
    /// 25P02: commands ignored until the end of the failed transaction block.
    public static let inFailedSQLTransaction: SQLState = "25P02"
    /// 28000
    public static let invalidAuthorizationSpecification: SQLState = "28000"
    /// 28P01
    public static let invalidPassword: SQLState = "28P01"
    /// 3D000
    public static let invalidCatalogName: SQLState = "3D000"
    /// 40001
    public static let serializationFailure: SQLState = "40001"
    /// 40P01
    public static let deadlockDetected: SQLState = "40P01"
    /// 42501
    public static let insufficientPrivilege: SQLState = "42501"
    /// 42601
    public static let syntaxError: SQLState = "42601"
    /// 42703
    public static let undefinedColumn: SQLState = "42703"
    /// 42883
    public static let undefinedFunction: SQLState = "42883"
    /// 42P01
    public static let undefinedTable: SQLState = "42P01"
    /// 42P04
    public static let duplicateDatabase: SQLState = "42P04"
    /// 42P07
    public static let duplicateTable: SQLState = "42P07"
    /// 42710
    public static let duplicateObject: SQLState = "42710"
    /// 53300
    public static let tooManyConnections: SQLState = "53300"
    /// 55P03
    public static let lockNotAvailable: SQLState = "55P03"
    /// 57014: statement cancelled (PQcancel or statement_timeout).
    public static let queryCanceled: SQLState = "57014"
    /// 57P01: the backend was terminated (pg_terminate_backend, smart/fast shutdown).
    public static let adminShutdown: SQLState = "57P01"
    /// 57P02
    public static let crashShutdown: SQLState = "57P02"
    /// 57P03: the server is starting up or shutting down.
    public static let cannotConnectNow: SQLState = "57P03"
    /// P0001: RAISE EXCEPTION in PL/pgSQL without an explicit code.
    public static let raiseException: SQLState = "P0001"
    /// P0002
    public static let noDataFound: SQLState = "P0002"
    /// P0003
    public static let tooManyRows: SQLState = "P0003"
    /// XX000
    public static let internalError: SQLState = "XX000"
}
