/// A statement with its parameters, built by string interpolation so values are always bound, never
/// spliced into the SQL text:
///
/// ```swift
/// let query: PostgresQuery = "SELECT id FROM invoice WHERE number = \(number) AND amount > \(minimum)"
/// // sql: "SELECT id FROM invoice WHERE number = $1 AND amount > $2", two bindings
/// ```
///
/// Trusted SQL text can be inserted only through the explicitly named `\(unescaped: text)`;
/// identifiers through `\(identifier: name)`, which quotes them. Do not write `$n` placeholders by hand
/// in a query that also interpolates values: interpolated values are numbered from `$1`.
///
/// Every parameter is sent with its type (a Swift `String` as `text`, `Int` as `bigint`, ...), so the
/// server never guesses. PostgreSQL has no implicit cast from `text` to an enum or domain-less custom
/// type: write the cast, `\(stage)::invoice_stage`.
public struct PostgresQuery: Sendable, Hashable, ExpressibleByStringInterpolation, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The SQL text with `$1`, `$2`, ... placeholders.
    public var sql: String
    /// One binding per placeholder, in order.
    public var bindings: [PostgresBinding]

    /// A query from trusted SQL text and explicit bindings. The name says what it is: nothing in `sql`
    /// is escaped.
    public init(unsafeSQL sql: String, bindings: [PostgresBinding] = []) {
        self.sql = sql
        self.bindings = bindings
    }

    /// A query without parameters, from a literal.
    public init(stringLiteral value: String) {
        self.sql = value
        self.bindings = []
    }

    /// A query built by interpolation.
    public init(stringInterpolation: StringInterpolation) {
        self.sql = stringInterpolation.sql
        self.bindings = stringInterpolation.bindings
    }

    /// The SQL text only: parameter values are not shown, so a query can be logged.
    public var description: String { sql }

    /// Collects literal SQL and bound values while a query literal is built.
    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var sql: String
        var bindings: [PostgresBinding]

        /// Reserves room for the literal text and the values.
        public init(literalCapacity: Int, interpolationCount: Int) {
            sql = ""
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            bindings = []
            bindings.reserveCapacity(interpolationCount)
        }

        /// Literal SQL written in the source.
        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// A value, bound as the next `$n` parameter. An `Optional` that is nil binds SQL NULL.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
            bindings.append(PostgresBinding(value))
            sql += "$\(bindings.count)"
        }

        /// An optional value: nil binds a typed SQL NULL. (A separate overload so the compiler does not
        /// warn about interpolating an optional.)
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
            bindings.append(PostgresBinding(value))
            sql += "$\(bindings.count)"
        }

        /// Bytes, bound as a `bytea` parameter.
        public mutating func appendInterpolation(_ bytes: [UInt8]) {
            appendInterpolation(PostgresBytea(bytes))
        }

        /// Trusted SQL text spliced in verbatim: the explicitly named escape hatch. Never pass input from
        /// outside the program here.
        public mutating func appendInterpolation(unescaped text: String) {
            sql += text
        }

        /// A table, column or other identifier, double-quoted with embedded quotes doubled (the rules of
        /// `PQescapeIdentifier`), so any name is safe and keeps its case.
        public mutating func appendInterpolation(identifier: String) {
            sql += PostgresQuery.quoteIdentifier(identifier)
        }
    }

    /// Double-quotes an identifier, doubling embedded double quotes.
    public static func quoteIdentifier(_ identifier: String) -> String {
        var quoted = "\""
        for character in identifier {
            if character == "\"" { quoted.append("\"") }
            quoted.append(character)
        }
        quoted.append("\"")
        return quoted
    }
}

/// One bound parameter: its text form (nil for SQL NULL) and the type it is sent as.
public struct PostgresBinding: Sendable, Hashable {
    /// The type OID sent to the server; ``PostgresDataType/unknown`` lets the server infer it.
    public var type: PostgresDataType
    /// The value in PostgreSQL's text format, or nil for NULL.
    public var text: String?

    /// A binding from its parts.
    public init(type: PostgresDataType, text: String?) {
        self.type = type
        self.text = text
    }

    /// The binding of an encodable value.
    public init<Value: PostgresEncodable>(_ value: Value) {
        self.type = Value.postgresType
        self.text = value.postgresText
    }
}
