import Foundation
import PostgresClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A PostgreSQL server of a test's own, which the test may stop, crash, restart or promote — things it must
/// never do to the shared test server.
///
/// It listens on no TCP address, only on a Unix socket inside ``directory``, so the port number merely
/// names the socket file and servers of tests running side by side never collide. Started by root, the
/// tools run as the `postgres` user (PostgreSQL refuses root), who then owns ``directory``.
public struct TestServer: Sendable {
    /// The directory holding `data/`, the socket and `server.log`.
    public let directory: String
    /// The number in the socket file's name.
    public let port: Int

    /// Describes a server under `directory`; nothing happens on disk here.
    public init(directory: String, port: Int) {
        self.directory = directory
        self.port = port
    }

    /// The data directory (`PGDATA`).
    public var dataDirectory: String { directory + "/data" }
    /// The server log (`pg_ctl -l`); tests read it to see what clients did.
    public var logFile: String { directory + "/server.log" }

    /// A libpq conninfo for `database` as `user` on this server alone.
    public func conninfo(database: String = "postgres", user: String = "postgres") -> String {
        "host=\(directory) port=\(port) user=\(user) dbname=\(database)"
    }

    /// Creates a fresh cluster (`initdb`) whose settings are those given, one `name = value` per line.
    public func initialise(settings: [String]) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try PostgresTool.giveToServerAccount(directory)
        try PostgresTool.run(
            "initdb", ["-D", dataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "-N"])
        try appendSettings(settings)
    }

    /// Adds `name = value` lines to `postgresql.conf`; a later line overrides an earlier one.
    public func appendSettings(_ settings: [String]) throws {
        let own = [
            "port = \(port)", "unix_socket_directories = '\(directory)'", "listen_addresses = ''",
            // Durability across the OS is not what these tests are about; a crash of the server is.
            "fsync = off", "full_page_writes = off", "shared_buffers = 16MB",
            "log_line_prefix = '%m [%p] %a '",
        ]
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dataDirectory + "/postgresql.conf"))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(("\n" + (own + settings).joined(separator: "\n") + "\n").utf8))
    }

    /// Starts the server and waits until it accepts connections.
    public func start() throws {
        try PostgresTool.run("pg_ctl", ["start", "-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-s"])
    }

    /// Stops the server: `fast` (clean), or `immediate` (a crash: no checkpoint, recovery at the next start).
    public func stop(mode: String = "fast") throws {
        try PostgresTool.run("pg_ctl", ["stop", "-D", dataDirectory, "-m", mode, "-w", "-t", "60", "-s"])
    }

    /// `pg_ctl restart` in the given mode, waiting until the server accepts connections again.
    public func restart(mode: String) throws {
        try PostgresTool.run(
            "pg_ctl", ["restart", "-D", dataDirectory, "-l", logFile, "-m", mode, "-w", "-t", "60", "-s"])
    }

    /// Promotes a standby and waits until it accepts writes.
    public func promote() throws {
        try PostgresTool.run("pg_ctl", ["promote", "-D", dataDirectory, "-w", "-t", "60", "-s"])
    }

    /// Stops the server if it runs (immediately: nothing in it matters any more) and deletes its directory.
    public func destroy() {
        if FileManager.default.fileExists(atPath: dataDirectory + "/postmaster.pid") {
            try? stop(mode: "immediate")
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The server log's text so far.
    public func log() -> String {
        (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
    }
}

/// A primary and a streaming standby made with `pg_basebackup -R`, for failover tests.
///
/// Replication is synchronous (`synchronous_standby_names = '*'` on the primary only): a commit returns
/// once the standby has flushed it, so crashing the primary loses no committed transaction — as a
/// production pair that promises "nothing lost" must be configured. The standby logs every statement and
/// connection with its application name, so a test can see whether a client used it before promotion.
public struct ReplicatedCluster: Sendable {
    /// The server that accepts writes at first.
    public let primary: TestServer
    /// The hot standby, promoted by the test.
    public let standby: TestServer

    /// Builds and starts both servers under a new temporary directory; `ports` only name the sockets.
    public static func start(ports: (primary: Int, standby: Int) = (55504, 55514)) throws -> ReplicatedCluster {
        // Short: a Unix socket path may not exceed 107 bytes.
        let root = "/tmp/if-failover-" + UUID().uuidString.prefix(8).lowercased()
        let cluster = ReplicatedCluster(
            primary: TestServer(directory: root + "/a", port: ports.primary),
            standby: TestServer(directory: root + "/b", port: ports.standby))
        do {
            try cluster.primary.initialise(settings: [
                "wal_level = replica", "max_wal_senders = 4", "hot_standby = on",
                "wal_keep_size = 256MB", "synchronous_standby_names = '*'",
            ])
            try cluster.primary.start()
            try FileManager.default.createDirectory(
                atPath: cluster.standby.directory, withIntermediateDirectories: true)
            try PostgresTool.giveToServerAccount(cluster.standby.directory)
            try PostgresTool.run(
                "pg_basebackup",
                [
                    "-D", cluster.standby.dataDirectory, "-R", "-X", "stream", "-c", "fast",
                    "-h", cluster.primary.directory, "-p", "\(cluster.primary.port)", "-U", "postgres",
                ])
            try cluster.standby.appendSettings([
                "synchronous_standby_names = ''", "log_statement = 'all'", "log_connections = on",
            ])
            try cluster.standby.start()
            return cluster
        } catch {
            cluster.destroy()
            throw error
        }
    }

    /// A multi-host conninfo naming the primary first and the standby second, with the given extra settings
    /// (such as `target_session_attrs=read-write`).
    public func conninfo(database: String, user: String = "postgres", extra: String = "") -> String {
        "host=\(primary.directory),\(standby.directory) port=\(primary.port),\(standby.port) "
            + "user=\(user) dbname=\(database) \(extra)"
    }

    /// Stops both servers and deletes everything.
    public func destroy() {
        standby.destroy()
        primary.destroy()
        try? FileManager.default.removeItem(atPath: (primary.directory as NSString).deletingLastPathComponent)
    }
}

/// A failed PostgreSQL tool run; the message has the command line and its output.
public struct PostgresToolError: Error, CustomStringConvertible {
    /// The command, its exit status and what it printed.
    public var description: String
}

/// Runs the PostgreSQL server tools (as `postgres` when the test runs as root).
enum PostgresTool {
    static let binDirectory: String = {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        let newest = versions.compactMap(Int.init).max()
        return newest.map { "/usr/lib/postgresql/\($0)/bin" } ?? "/usr/bin"
    }()

    static var runsAsServerAccount: Bool { geteuid() == 0 }

    static func giveToServerAccount(_ path: String) throws {
        guard runsAsServerAccount else { return }
        guard let entry = getpwnam("postgres") else {
            throw PostgresToolError(description: "running as root, but there is no postgres user to run the server")
        }
        guard chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
            throw PostgresToolError(description: "chown \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Runs `tool` from the server's bin directory and throws with its output unless it exits 0.
    ///
    /// posix_spawn and a polled `waitpid`, output to a file: Foundation's `Process` misses the exit of
    /// `runuser` children under the test runner, and `pg_ctl start` leaves a server behind that would hold a
    /// pipe open forever (see PostgresClient's `Subprocess`).
    static func run(_ tool: String, _ arguments: [String], timeout: Duration = .seconds(120)) throws {
        let path = binDirectory + "/" + tool
        let argv =
            runsAsServerAccount ? ["/usr/sbin/runuser", "-u", "postgres", "--", path] + arguments : [path] + arguments
        let capture = "/tmp/if-tool-" + UUID().uuidString + ".out"
        guard FileManager.default.createFile(atPath: capture, contents: nil) else {
            throw PostgresToolError(description: "cannot create \(capture)")
        }
        defer { try? FileManager.default.removeItem(atPath: capture) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, capture, O_WRONLY | O_APPEND, 0)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else {
            throw PostgresToolError(description: "cannot start \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw PostgresToolError(description: "\(argv.joined(separator: " ")) timed out")
            }
            usleep(10_000)
        }
        guard status == 0 else {
            let output = (try? String(contentsOfFile: capture, encoding: .utf8)) ?? ""
            throw PostgresToolError(description: "\(argv.joined(separator: " ")) failed (\(status)): \(output)")
        }
    }
}
