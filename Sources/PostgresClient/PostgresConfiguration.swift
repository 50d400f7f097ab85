internal import CLibPQ

/// Where and how to connect to PostgreSQL: a validated libpq connection string with InvoiceFlow's
/// defaults filled in.
///
/// Both URL (`postgresql://user@host/db?sslmode=require`) and key/value (`host=db port=5432`) forms are
/// accepted and normalised to key/value settings. libpq's multi-host syntax
/// (`host=a,b target_session_attrs=read-write`) passes through untouched, so failover stays libpq's job.
public struct PostgresConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// One `key=value` pair of a libpq connection string.
    struct Setting: Sendable, Hashable {
        var key: String
        var value: String
        /// libpq marks password-like options ("*" display character); those are never shown.
        var isSecret: Bool
    }

    /// User values and defaults together, sorted by key so equal settings compare equal.
    private(set) var settings: [Setting]

    /// Defaults added when the user did not give the key: a connect deadline and TCP keepalives, so that
    /// neither a connect nor a query can hang forever on a dead server or a dropped network path.
    static let defaults: [(key: String, value: String)] = [
        ("connect_timeout", "10"),
        ("keepalives", "1"),
        ("keepalives_idle", "30"),
        ("keepalives_interval", "10"),
        ("keepalives_count", "3"),
        ("application_name", "invoiceflow"),
    ]

    /// Parses and validates a libpq URL or key/value connection string.
    ///
    /// - Throws: ``PostgresConfigurationError`` naming the bad key or saying what is malformed.
    public init(_ conninfo: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>? = nil
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            let reason: String
            if let errorMessage {
                reason = String(cString: errorMessage).trimmingTrailingWhitespace()
                PQfreemem(errorMessage)
            } else {
                reason = "out of memory while parsing the connection string"
            }
            throw PostgresConfigurationError(reason: reason)
        }
        defer { PQconninfoFree(options) }
        var parsed: [Setting] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                let display = option.pointee.dispchar.map { String(cString: $0) } ?? ""
                parsed.append(
                    Setting(key: String(cString: keyword), value: String(cString: value), isSecret: display == "*"))
            }
            option += 1
        }
        for (key, value) in Self.defaults where !parsed.contains(where: { $0.key == key }) {
            parsed.append(Setting(key: key, value: value, isSecret: false))
        }
        // Text decoding depends on UTF-8; a user-chosen client_encoding would silently corrupt values.
        parsed.removeAll { $0.key == "client_encoding" }
        parsed.append(Setting(key: "client_encoding", value: "UTF8", isSecret: false))
        self.settings = parsed.sorted { $0.key < $1.key }
    }

    /// The connection string handed to libpq. It may contain a password: log ``redacted`` instead.
    public var conninfo: String {
        settings.map { "\($0.key)=\(Self.quote($0.value))" }.joined(separator: " ")
    }

    /// The connection string with every password-like value replaced by `********`; safe to log.
    public var redacted: String {
        settings.map { "\($0.key)=\($0.isSecret ? "********" : Self.quote($0.value))" }.joined(separator: " ")
    }

    /// The redacted form, so that string interpolation into a log line never leaks a password.
    public var description: String { redacted }

    /// The value of one setting, if present (the user's or a default).
    public func value(for key: String) -> String? {
        settings.first { $0.key == key }?.value
    }

    /// A copy with one setting replaced or added, e.g. `.setting("dbname", "invoices")` or
    /// `.setting("application_name", "invoiceflow-listener")`.
    public func setting(_ key: String, _ value: String) -> PostgresConfiguration {
        var copy = self
        let secret = key == "password" || key == "sslpassword"
        if let index = copy.settings.firstIndex(where: { $0.key == key }) {
            copy.settings[index].value = value
        } else {
            copy.settings.append(Setting(key: key, value: value, isSecret: secret))
            copy.settings.sort { $0.key < $1.key }
        }
        return copy
    }

    /// How many servers the string names (`host=a,b` or `hostaddr=...`): more than one for a failover pair.
    public var hostCount: Int {
        let hosts = value(for: "host") ?? value(for: "hostaddr") ?? ""
        return max(1, hosts.split(separator: ",", omittingEmptySubsequences: false).count)
    }

    /// The configuration for a client that writes: a multi-host string without `target_session_attrs` gets
    /// `read-write`, so that libpq skips a standby (or a demoted old primary) and connects only to the server
    /// that accepts writes. Without it libpq would take the first host that answers, and a daemon whose first
    /// host is a standby would fail every write and could not LISTEN. An explicit value is kept.
    public func writableWhenMultiHost() -> PostgresConfiguration {
        guard hostCount > 1, value(for: "target_session_attrs") == nil else { return self }
        return setting("target_session_attrs", "read-write")
    }

    /// libpq's quoting: single quotes around the value, backslash before `'` and `\`.
    static func quote(_ value: String) -> String {
        var quoted = "'"
        for character in value {
            if character == "'" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        quoted.append("'")
        return quoted
    }
}

/// A connection string that libpq refuses; ``reason`` is libpq's own explanation, which names the bad key
/// (`invalid connection option "hots"`) or the malformed part.
public struct PostgresConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the connection string was rejected.
    public var reason: String

    /// The offending key, when libpq's explanation names one.
    public var key: String? {
        guard reason.contains("option") || reason.contains("parameter"), let open = reason.firstIndex(of: "\"") else {
            return nil
        }
        let rest = reason[reason.index(after: open)...]
        guard let close = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<close])
    }

    /// A sentence for operators: "invalid database connection string: <reason>".
    public var description: String { "invalid database connection string: \(reason)" }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var copy = self
        while let last = copy.last, last.isWhitespace { copy.removeLast() }
        return copy
    }
}
