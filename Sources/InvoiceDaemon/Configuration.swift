import Foundation
import Logging
import PostgresClient

/// Everything the daemon reads at start, typed and validated once.
///
/// Every key is an environment variable `INVOICEFLOW_*`; the same keys may be written as
/// `INVOICEFLOW_KEY=value` lines in a configuration file (the format of a systemd `EnvironmentFile`),
/// and the environment wins over the file.
public struct Configuration: Sendable {
    /// Where the daemon's database is: a configured server, or a private cluster it runs itself.
    public enum Database: Sendable {
        /// A libpq URL or key/value conninfo, used as it is.
        case configured(PostgresConfiguration)
        /// No database configured: a private cluster under this directory.
        case privateCluster(directory: String)
    }

    /// How log lines are written.
    public enum LogFormat: String, Sendable, CaseIterable {
        /// Human-readable text on a terminal, JSON lines otherwise.
        case auto
        /// Human-readable text.
        case text
        /// One JSON object per line.
        case json
    }

    /// The database to use.
    public var database: Database
    /// Local state of a first-run installation: the private cluster and the mail folder.
    public var dataDirectory: String
    /// Where PostgreSQL's server binaries are, when not found by `pg_config` or the usual paths.
    public var postgresBinDirectory: String?
    /// How many connections the daemon's pool may open.
    public var poolSize: Int
    /// How often the daemon refreshes the stored report snapshots; nil when it does not.
    public var reportRefreshInterval: Duration?
    /// How often the scheduler runs a round of SLA reminders, escalations and overdue notices.
    public var schedulerInterval: Duration
    /// How many connections route at once (each routes one invoice at a time).
    public var routerConnections: Int
    /// The lowest level logged.
    public var logLevel: Logger.Level
    /// How log lines are written.
    public var logFormat: LogFormat
    /// The mail relay or folder, the sender and the base URL of links.
    public var mail: MailSettings
    /// The HTTP server's address and the keys of email action links.
    public var http: HTTPSettings

    /// Every key the daemon understands, with its meaning; `config check` and the docs list them.
    public static let keys: [Key] =
        coreKeys + MailSettings.keys + HTTPSettings.keys
        + secretFileKeys(coreKeys + MailSettings.keys + HTTPSettings.keys)

    /// `<KEY>_FILE` for every secret key: the value is read from that file (a systemd credential under
    /// `$CREDENTIALS_DIRECTORY`, a Docker secret), so the secret appears in no environment or unit file.
    private static func secretFileKeys(_ keys: [Key]) -> [Key] {
        keys.filter(\.secret).map {
            Key($0.name + "_FILE", "file whose content is \($0.name) (one trailing newline ignored); not with it")
        }
    }

    private static let coreKeys: [Key] = [
        Key("INVOICEFLOW_CONFIG", "path of a configuration file of KEY=value lines (environment only)"),
        Key(
            "INVOICEFLOW_DATABASE_URL", "libpq URL or conninfo; unset: a private cluster under the data directory",
            secret: true),
        Key("INVOICEFLOW_DATA_DIR", "local state of a first-run installation (default ./var)"),
        Key("INVOICEFLOW_PG_BIN", "directory of initdb/pg_ctl for the private cluster (default: found automatically)"),
        Key("INVOICEFLOW_POOL_SIZE", "database connections of the daemon, 1...64 (default 4)"),
        Key(
            "INVOICEFLOW_REPORT_REFRESH_MINUTES",
            "minutes between refreshes of the stored report snapshots, 1...1440, or 0 for never (default 15)"),
        Key(
            "INVOICEFLOW_SCHEDULER_INTERVAL_SECONDS",
            "seconds between the scheduler's rounds (reminders, escalations, overdue documents), 1...3600 (default 60)"),
        Key(
            "INVOICEFLOW_ROUTER_CONNECTIONS",
            "routing connections of the daemon, each routing one invoice at a time, 1...16 (default 2)"),
        Key("INVOICEFLOW_LOG_LEVEL", "trace, debug, info, notice, warning, error, critical (default info)"),
        Key("INVOICEFLOW_LOG_FORMAT", "auto, text or json (default auto: text on a terminal, JSON otherwise)"),
    ]

    /// One configuration key.
    public struct Key: Sendable {
        /// The environment variable's name.
        public var name: String
        /// What it sets, for people.
        public var meaning: String
        /// Whether its value must never be printed or logged.
        public var secret: Bool

        init(_ name: String, _ meaning: String, secret: Bool = false) {
            self.name = name
            self.meaning = meaning
            self.secret = secret
        }
    }

    /// Reads the configuration from `environment` and, when `INVOICEFLOW_CONFIG` or `file` names one, a file.
    ///
    /// - Throws: ``ConfigurationError`` naming the offending key and what is wrong with its value.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        file: String? = nil
    ) throws(ConfigurationError) -> Configuration {
        var values: [String: String] = [:]
        if let path = file ?? environment["INVOICEFLOW_CONFIG"] {
            values = try ConfigurationFile.read(path: path, knownKeys: Set(keys.map(\.name)))
        }
        let known = Set(keys.map(\.name))
        for (key, value) in environment where key.hasPrefix("INVOICEFLOW_") {
            // A misspelt key must not silently fall back to a default (a typo in INVOICEFLOW_DATABASE_URL would
            // start a private cluster instead). Test-harness variables are the one known family of others.
            guard known.contains(key) || key.hasPrefix("INVOICEFLOW_TEST_") else {
                throw ConfigurationError(key: key, problem: "unknown key (see `invoiceflow config keys`)")
            }
            values[key] = value
        }
        try readSecretFiles(into: &values)
        return try Configuration(values: values)
    }

    /// Replaces each `<KEY>_FILE` by `<KEY>` with the file's content, minus one trailing line break.
    static func readSecretFiles(into values: inout [String: String]) throws(ConfigurationError) {
        for key in keys where key.secret {
            let fileKey = key.name + "_FILE"
            guard let path = values.removeValue(forKey: fileKey)?.trimmingCharacters(in: .whitespaces), !path.isEmpty
            else { continue }
            // Two sources for one secret would leave the operator guessing which one is used.
            if let direct = values[key.name], !direct.trimmingCharacters(in: .whitespaces).isEmpty {
                throw ConfigurationError(key: fileKey, problem: "\(key.name) is set too; set only one of them")
            }
            var text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigurationError(key: fileKey, problem: "cannot read \(path): \(error.localizedDescription)")
            }
            if text.hasSuffix("\n") { text.removeLast() }
            values[key.name] = text
        }
    }

    /// Builds a configuration from already merged `INVOICEFLOW_*` values.
    public init(values: [String: String]) throws(ConfigurationError) {
        func value(_ key: String) -> String? {
            guard let raw = values[key]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }

        dataDirectory = value("INVOICEFLOW_DATA_DIR") ?? "var"
        postgresBinDirectory = value("INVOICEFLOW_PG_BIN")

        if let url = value("INVOICEFLOW_DATABASE_URL") {
            do {
                // A failover pair's string must land on the writable server (docs/operations.md, "Failover").
                database = .configured(try PostgresConfiguration(url).writableWhenMultiHost())
            } catch {
                throw ConfigurationError(key: "INVOICEFLOW_DATABASE_URL", problem: "\(error)")
            }
        } else {
            database = .privateCluster(directory: dataDirectory + "/postgres")
        }

        if let raw = value("INVOICEFLOW_POOL_SIZE") {
            guard let size = Int(raw), (1...64).contains(size) else {
                throw ConfigurationError(
                    key: "INVOICEFLOW_POOL_SIZE", problem: "must be a whole number from 1 to 64, not \"\(raw)\"")
            }
            poolSize = size
        } else {
            poolSize = 4
        }

        if let raw = value("INVOICEFLOW_REPORT_REFRESH_MINUTES") {
            guard let minutes = Int(raw), (0...1440).contains(minutes) else {
                throw ConfigurationError(
                    key: "INVOICEFLOW_REPORT_REFRESH_MINUTES",
                    problem: "must be a whole number of minutes from 0 (never) to 1440, not \"\(raw)\"")
            }
            reportRefreshInterval = minutes == 0 ? nil : .seconds(minutes * 60)
        } else {
            reportRefreshInterval = .seconds(15 * 60)
        }

        if let raw = value("INVOICEFLOW_SCHEDULER_INTERVAL_SECONDS") {
            guard let seconds = Int(raw), (1...3600).contains(seconds) else {
                throw ConfigurationError(
                    key: "INVOICEFLOW_SCHEDULER_INTERVAL_SECONDS",
                    problem: "must be a whole number of seconds from 1 to 3600, not \"\(raw)\"")
            }
            schedulerInterval = .seconds(seconds)
        } else {
            schedulerInterval = .seconds(60)
        }

        if let raw = value("INVOICEFLOW_ROUTER_CONNECTIONS") {
            guard let count = Int(raw), (1...16).contains(count) else {
                throw ConfigurationError(
                    key: "INVOICEFLOW_ROUTER_CONNECTIONS",
                    problem: "must be a whole number from 1 to 16, not \"\(raw)\"")
            }
            routerConnections = count
        } else {
            routerConnections = RouterService.defaultConnections
        }

        if let raw = value("INVOICEFLOW_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: raw.lowercased()) else {
                let allowed = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigurationError(
                    key: "INVOICEFLOW_LOG_LEVEL", problem: "must be one of \(allowed), not \"\(raw)\"")
            }
            logLevel = level
        } else {
            logLevel = .info
        }

        if let raw = value("INVOICEFLOW_LOG_FORMAT") {
            guard let format = LogFormat(rawValue: raw.lowercased()) else {
                throw ConfigurationError(
                    key: "INVOICEFLOW_LOG_FORMAT", problem: "must be auto, text or json, not \"\(raw)\"")
            }
            logFormat = format
        } else {
            logFormat = .auto
        }

        mail = try MailSettings(values: values, dataDirectory: dataDirectory)
        http = try HTTPSettings(values: values, dataDirectory: dataDirectory)
    }
}

/// A configuration value the daemon cannot use; the message names the key.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The configuration key at fault, such as `INVOICEFLOW_POOL_SIZE`.
    public var key: String
    /// What is wrong with it.
    public var problem: String

    /// A sentence naming the key and the problem.
    public var description: String { "configuration error in \(key): \(problem)" }
}

/// Reads `INVOICEFLOW_KEY=value` lines: blank lines and `#` comments are skipped, values may be quoted.
enum ConfigurationFile {
    static func read(path: String, knownKeys: Set<String>) throws(ConfigurationError) -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(
                key: "INVOICEFLOW_CONFIG", problem: "cannot read \(path): \(error.localizedDescription)")
        }
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let where_ = "\(path):\(index + 1)"
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(key: "INVOICEFLOW_CONFIG", problem: "\(where_): expected KEY=value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard knownKeys.contains(key), key != "INVOICEFLOW_CONFIG" else {
                throw ConfigurationError(key: key, problem: "\(where_): unknown key")
            }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            values[key] = value
        }
        return values
    }
}
