internal import CLibPQ
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A PostgreSQL cluster of the daemon's own, under a local directory, for a first run with no database
/// configured.
///
/// Layout of `directory`: `data/` (the cluster), `socket/` (the only way in: the server listens on no TCP
/// address, and the socket directory has mode 0700, so trust authentication admits only the owner and
/// root), `postgres.log` (the server log). Because each cluster has its own socket directory, two clusters
/// in different directories may use the same port number.
///
/// PostgreSQL refuses to run as root; started by root, the tools run as the `postgres` user, or as a system
/// user `invoiceflow` created for the purpose, who then owns `directory`.
///
/// The methods block while the PostgreSQL tools run (seconds); call them at start-up and shutdown, not on a
/// hot path.
public struct PrivateCluster: Sendable {
    /// The name of the database created for the application.
    public static let databaseName = "invoiceflow"
    /// The cluster's superuser, the role the returned configuration connects as.
    public static let superuser = "postgres"

    /// The absolute directory holding the cluster, its socket and its log.
    public let directory: String
    /// The port number, which here only names the socket file (`.s.PGSQL.<port>`).
    public let port: Int
    /// The configured directory of `initdb` and `pg_ctl`; nil to search for them.
    public let binDirectory: String?
    private let logger: Logger

    /// Describes a private cluster; nothing happens on disk until `start()`.
    /// - Parameters:
    ///   - directory: where the cluster lives, e.g. `./var/postgres`; relative paths are resolved against the
    ///     current directory now.
    ///   - port: the number in the socket file's name.
    ///   - binDirectory: where `initdb` and `pg_ctl` are; nil searches `pg_config --bindir`, the newest
    ///     `/usr/lib/postgresql/*/bin`, then `PATH`.
    public init(directory: String, port: Int = 5432, binDirectory: String? = nil, logger: Logger) {
        let url =
            directory.hasPrefix("/")
            ? URL(fileURLWithPath: directory)
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(directory)
        self.directory = url.standardizedFileURL.path
        self.port = port
        self.binDirectory = binDirectory
        self.logger = logger
    }

    /// The cluster's data directory (`PGDATA`).
    public var dataDirectory: String { directory + "/data" }
    /// The directory holding the server's Unix socket.
    public var socketDirectory: String { directory + "/socket" }
    /// The server's log file.
    public var logFile: String { directory + "/postgres.log" }

    /// The libpq conninfo of the application database as the cluster's superuser.
    public var conninfo: String {
        "host=\(Self.conninfoValue(socketDirectory)) port=\(port) user=\(Self.superuser) dbname=\(Self.databaseName)"
    }

    /// The exact command line a person types into a shell to connect with psql.
    public var psqlCommand: String {
        let value = conninfo
        // Double quotes read best; fall back to single quotes when the shell would expand something.
        if value.contains(where: { "\"$`\\!".contains($0) }) {
            return "psql '" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
        return "psql \"\(value)\""
    }

    /// Initialises the cluster when `directory` holds none, starts it (or reuses a server already running on
    /// it), creates the database `invoiceflow` when missing, and returns the configuration to connect as the
    /// cluster's superuser. A `postmaster.pid` left by a crashed server does not block the start.
    public func start() throws -> PostgresConfiguration {
        try startServer()
        return try PostgresConfiguration(conninfo)
    }

    /// Stops the server (`pg_ctl stop -m fast`) and waits until it is gone; nothing happens when it is not
    /// running.
    public func stop() throws {
        guard let pid = postmasterPID(), Self.isLivePostgres(pid) else {
            logger.debug("private cluster not running", metadata: ["directory": "\(directory)"])
            return
        }
        let binaries = try PostgresBinaries.locate(configured: binDirectory ?? matchingBinDirectory)
        let account = try ServiceAccount.resolve(logger: logger)
        try runTool(
            binaries.pgCtl,
            ["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", "60", "-s"],
            as: account,
            timeout: .seconds(90)
        )
        logger.info("private PostgreSQL cluster stopped", metadata: ["directory": "\(directory)"])
    }

    /// Stops and starts the server again, as an operator or a failover would; used by tests.
    public func restart() throws {
        try stop()
        try startServer()
    }

    /// The Debian-style binary directory of the major version the existing cluster was made with: after an
    /// upgrade installed a newer PostgreSQL beside the old one, the newest server cannot open old data.
    private var matchingBinDirectory: String? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/PG_VERSION", encoding: .utf8) else {
            return nil
        }
        let directory = "/usr/lib/postgresql/\(text.trimmingCharacters(in: .whitespacesAndNewlines))/bin"
        let complete = ["initdb", "pg_ctl"].allSatisfy {
            FileManager.default.isExecutableFile(atPath: directory + "/" + $0)
        }
        return complete ? directory : nil
    }

    /// Everything `start()` does except building the configuration.
    func startServer() throws(PrivateClusterError) {
        let socketFile = "\(socketDirectory)/.s.PGSQL.\(port)"
        // sockaddr_un.sun_path holds 108 bytes including the terminating NUL on Linux (104 on Darwin).
        guard socketFile.utf8.count < 104 else { throw .socketPathTooLong(socketFile) }
        let binaries = try PostgresBinaries.locate(configured: binDirectory ?? matchingBinDirectory)
        let account = try ServiceAccount.resolve(logger: logger)
        try prepareDirectories(for: account)
        try withStartLock { () throws(PrivateClusterError) in
            if !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") {
                try initialise(binaries: binaries, account: account)
            }
            try writeSettings(for: account)
            if let pid = postmasterPID(), Self.isLivePostgres(pid) {
                logger.info("reusing the private PostgreSQL server already running", metadata: ["pid": "\(pid)"])
                try awaitConnections()
            } else {
                try startAfterCrashRemains(binaries: binaries, account: account)
            }
            try ensureDatabase()
        }
        logger.info(
            "private PostgreSQL cluster running",
            metadata: ["data": "\(dataDirectory)", "log": "\(logFile)", "connect": "\(psqlCommand)"]
        )
    }

    /// Runs `body` holding an exclusive lock on `start.lock` in the cluster directory, so that processes
    /// starting the same cluster at once (daemon replicas sharing a directory) take turns: the first
    /// initialises and starts it, the others find it running and reuse it. The descriptor is close-on-exec,
    /// so the server never inherits the lock.
    private func withStartLock(_ body: () throws(PrivateClusterError) -> Void) throws(PrivateClusterError) {
        let path = directory + "/start.lock"
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .fileSystem("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw .fileSystem("cannot lock \(path): \(String(cString: strerror(errno)))") }
        }
        try body()
    }

    private func prepareDirectories(for account: ServiceAccount) throws(PrivateClusterError) {
        for path in [directory, socketDirectory] {
            do {
                // Parents (such as ./var) keep the default mode: a 0700 parent would lock the service user out.
                let parent = (path as NSString).deletingLastPathComponent
                if !parent.isEmpty {
                    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
                }
                try FileManager.default.createDirectory(
                    atPath: path,
                    withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700]
                )
                // createDirectory leaves an existing directory's mode alone; the socket must stay private.
                try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
            } catch {
                throw .fileSystem("cannot create \(path): \(error)")
            }
            try account.takeOwnership(of: path)
        }
        if case .user(let name, _, _) = account {
            let outcome = try Subprocess.run(
                "/usr/sbin/runuser",
                ["-u", name, "--", "/usr/bin/test", "-w", directory],
                timeout: .seconds(10)
            )
            guard outcome.status == 0 else { throw .unreachableByServiceUser(directory: directory, user: name) }
        }
    }

    private func initialise(binaries: PostgresBinaries, account: ServiceAccount) throws(PrivateClusterError) {
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: dataDirectory)) ?? []
        guard existing.isEmpty else { throw .notAClusterDirectory(dataDirectory) }
        logger.info("initialising a private PostgreSQL cluster", metadata: ["data": "\(dataDirectory)"])
        try runTool(
            binaries.initdb,
            [
                "-D", dataDirectory, "-U", Self.superuser, "-E", "UTF8", "--locale=C.UTF-8",
                "--auth-local=trust", "--auth-host=reject",
            ],
            as: account,
            timeout: .seconds(180)
        )
    }

    /// Writes `invoiceflow.conf` (socket-only settings, rewritten at every start so a moved directory or a
    /// new port takes effect) and makes sure `postgresql.conf` includes it, so even a server started by hand
    /// with plain `pg_ctl` listens on no TCP address.
    private func writeSettings(for account: ServiceAccount) throws(PrivateClusterError) {
        let settings = """
            # Written by InvoiceFlow at every start of its private cluster; edits here are overwritten.
            listen_addresses = ''
            port = \(port)
            unix_socket_directories = '\(socketDirectory.replacingOccurrences(of: "'", with: "''"))'
            unix_socket_permissions = 0700

            """
        let settingsFile = dataDirectory + "/invoiceflow.conf"
        let mainFile = dataDirectory + "/postgresql.conf"
        let include = "include_if_exists = 'invoiceflow.conf'"
        do {
            try settings.write(toFile: settingsFile, atomically: false, encoding: .utf8)
            try account.takeOwnership(of: settingsFile)
            let main = try String(contentsOfFile: mainFile, encoding: .utf8)
            if !main.contains(include) {
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: mainFile))
                defer { try? handle.close() }
                try handle.seekToEnd()
                try handle.write(contentsOf: Data("\n# InvoiceFlow private-cluster settings\n\(include)\n".utf8))
            }
        } catch let error as PrivateClusterError {
            throw error
        } catch {
            throw .fileSystem("cannot write the cluster settings in \(dataDirectory): \(error)")
        }
    }

    private func runTool(
        _ tool: String,
        _ arguments: [String],
        as account: ServiceAccount,
        timeout: Duration
    ) throws(PrivateClusterError) {
        let (executable, fullArguments) = account.command(tool, arguments)
        let outcome = try Subprocess.run(executable, fullArguments, timeout: timeout)
        guard outcome.status == 0 else {
            throw .commandFailed(
                command: ([tool] + arguments).joined(separator: " "),
                status: outcome.status,
                output: outcome.output
            )
        }
    }

    /// Runs `pg_ctl start`. Right after a crash the killed server's children may still hold its shared
    /// memory for a moment ("pre-existing shared memory block is still in use"); that is retried for a
    /// while instead of failing the daemon's start.
    private func startAfterCrashRemains(binaries: PostgresBinaries, account: ServiceAccount) throws(PrivateClusterError)
    {
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            if let pid = postmasterPID(), !Self.isLivePostgres(pid) { removeStalePIDFile() }
            do {
                try runTool(
                    binaries.pgCtl,
                    ["start", "-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-s"],
                    as: account,
                    timeout: .seconds(90)
                )
                return
            } catch {
                guard case .commandFailed(let command, let status, let output) = error else { throw error }
                let log = serverLogTail()
                let remains = log.contains("still in use") || log.contains("already exists")
                if remains, ContinuousClock.now < deadline {
                    logger.info("waiting for the remains of a stopped server to exit", metadata: ["log": "\(log)"])
                    usleep(500_000)
                    continue
                }
                throw .commandFailed(command: command, status: status, output: output + "\nserver log:\n" + log)
            }
        }
    }

    /// The last lines of the server log, which say why a start failed where `pg_ctl` only says it did.
    private func serverLogTail(lines: Int = 6) -> String {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return "(no server log)" }
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    private func postmasterPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
            let firstLine = text.split(separator: "\n").first
        else { return nil }
        return pid_t(firstLine.trimmingCharacters(in: .whitespaces))
    }

    /// Whether `pid` is a live PostgreSQL process. After a crash or a reboot the number in a stale
    /// `postmaster.pid` can belong to an unrelated process, and PostgreSQL would then refuse to start.
    static func isLivePostgres(_ pid: pid_t) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else {
            // Without /proc (Darwin) a live process under that number is taken as the server: never risk
            // two postmasters on one data directory.
            return true
        }
        // A killed server that nobody reaped (a container's init often does not) lingers as a zombie.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let isZombie = stat.range(of: ") ").map { stat[$0.upperBound...].hasPrefix("Z") } ?? false
        return name.hasPrefix("postgres") && !isZombie
    }

    private func removeStalePIDFile() {
        let pidFile = dataDirectory + "/postmaster.pid"
        guard FileManager.default.fileExists(atPath: pidFile) else { return }
        logger.warning(
            "removing a stale postmaster.pid left by a server that is gone",
            metadata: ["file": "\(pidFile)", "pid": "\(postmasterPID().map(String.init) ?? "unreadable")"]
        )
        try? FileManager.default.removeItem(atPath: pidFile)
    }

    /// Waits for a server that is already running (perhaps still starting up) to accept connections.
    private func awaitConnections() throws(PrivateClusterError) {
        let serverConninfo = conninfo(database: "postgres")
        let deadline = ContinuousClock.now + .seconds(60)
        while PQping(serverConninfo) != PQPING_OK {
            guard ContinuousClock.now < deadline else {
                throw .databaseSetup("a server runs on \(dataDirectory) but does not answer on \(socketDirectory)")
            }
            usleep(100_000)
        }
    }

    private func conninfo(database: String) -> String {
        "host=\(Self.conninfoValue(socketDirectory)) port=\(port) user=\(Self.superuser) dbname=\(database) connect_timeout=10"
    }

    private func ensureDatabase() throws(PrivateClusterError) {
        guard let connection = PQconnectdb(conninfo(database: "postgres")) else {
            throw .databaseSetup("out of memory")
        }
        defer { PQfinish(connection) }
        guard PQstatus(connection) == CONNECTION_OK else {
            throw .databaseSetup(String(cString: PQerrorMessage(connection)))
        }
        func execute(_ sql: String) -> (rows: Int32, sqlState: String?, message: String) {
            let result = PQexec(connection, sql)
            defer { PQclear(result) }
            let status = PQresultStatus(result)
            if status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK { return (PQntuples(result), nil, "") }
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            return (0, state ?? "", String(cString: PQerrorMessage(connection)))
        }
        let found = execute("SELECT 1 FROM pg_database WHERE datname = '\(Self.databaseName)'")
        if let state = found.sqlState { throw .databaseSetup("\(state): \(found.message)") }
        guard found.rows == 0 else { return }
        let created = execute("CREATE DATABASE \(Self.databaseName)")
        // 42P04 duplicate_database: another process starting at the same moment created it first.
        if let state = created.sqlState, state != "42P04" { throw .databaseSetup("\(state): \(created.message)") }
        logger.info("created the application database", metadata: ["database": "\(Self.databaseName)"])
    }

    /// Quotes a conninfo value when it holds a space, a quote or a backslash, per libpq's rules.
    static func conninfoValue(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { " '\\".contains($0) }) else { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        return "'\(escaped)'"
    }
}
