import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a private PostgreSQL cluster could not be prepared, started or stopped.
public enum PrivateClusterError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No directory holding both `initdb` and `pg_ctl` was found; `tried` lists every place looked at, in order.
    case binariesNotFound(tried: [String])
    /// A PostgreSQL tool exited with a non-zero status; `output` is what it printed (stdout and stderr).
    case commandFailed(command: String, status: Int32, output: String)
    /// A PostgreSQL tool did not finish in time and was killed.
    case commandTimedOut(command: String, seconds: Int, output: String)
    /// The data directory exists and is not empty, but holds no PostgreSQL cluster.
    case notAClusterDirectory(String)
    /// The socket path would exceed the operating system's limit for Unix socket names.
    case socketPathTooLong(String)
    /// The unprivileged user that must run the server cannot write to the cluster directory.
    case unreachableByServiceUser(directory: String, user: String)
    /// The unprivileged system user could not be found or created.
    case serviceUserUnavailable(String)
    /// Creating the cluster directory or its configuration failed.
    case fileSystem(String)
    /// The server started but the application database could not be checked or created.
    case databaseSetup(String)

    public var description: String {
        switch self {
        case .binariesNotFound(let tried):
            "PostgreSQL server binaries (initdb, pg_ctl) not found; tried: \(tried.joined(separator: ", ")). "
                + "Install the PostgreSQL server package or configure the binary directory."
        case .commandFailed(let command, let status, let output):
            "\(command) failed with exit status \(status): \(output)"
        case .commandTimedOut(let command, let seconds, let output):
            "\(command) did not finish within \(seconds) s and was stopped: \(output)"
        case .notAClusterDirectory(let path):
            "\(path) exists and is not empty but holds no PostgreSQL cluster (no PG_VERSION); refusing to touch it"
        case .socketPathTooLong(let path):
            "the socket path \(path) is longer than Unix sockets allow; choose a shorter cluster directory"
        case .unreachableByServiceUser(let directory, let user):
            "the user \(user) that runs PostgreSQL cannot write to \(directory) "
                + "(a parent directory is probably not searchable); choose a directory elsewhere"
        case .serviceUserUnavailable(let message):
            "no unprivileged user to run PostgreSQL as: \(message)"
        case .fileSystem(let message):
            "cluster directory: \(message)"
        case .databaseSetup(let message):
            "the private cluster runs but its database could not be prepared: \(message)"
        }
    }
}

/// The directory holding the PostgreSQL server tools this launcher runs.
struct PostgresBinaries: Sendable, Equatable {
    var directory: String
    var initdb: String { directory + "/initdb" }
    var pgCtl: String { directory + "/pg_ctl" }

    /// Where to look when no directory is configured; a value so tests can point every source at nothing.
    struct SearchPlaces: Sendable {
        /// Directories searched for `pg_config` and, last, for the tools themselves.
        var path: [String]
        /// The Debian-style root holding one `<major>/bin` per installed version.
        var versionedRoot: String

        static var system: SearchPlaces {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            return SearchPlaces(
                path: path.split(separator: ":").map(String.init),
                versionedRoot: "/usr/lib/postgresql"
            )
        }
    }

    /// Finds the tools: the configured directory, else `pg_config --bindir`, else the newest
    /// `<versionedRoot>/<major>/bin`, else the first directory on the path holding both tools.
    static func locate(
        configured: String?,
        places: SearchPlaces = .system
    ) throws(PrivateClusterError) -> PostgresBinaries {
        // A configured directory is an explicit choice: falling back silently would start another version.
        if let configured {
            guard holdsTools(configured) else {
                throw .binariesNotFound(tried: ["\(configured) (configured)"])
            }
            return PostgresBinaries(directory: configured)
        }
        var tried: [String] = []
        if let pgConfig = places.path.map({ $0 + "/pg_config" }).first(where: isExecutable) {
            let outcome = try? Subprocess.run(pgConfig, ["--bindir"], timeout: .seconds(10))
            let bindir = outcome?.output.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if outcome?.status == 0, holdsTools(bindir) { return PostgresBinaries(directory: bindir) }
            tried.append("\(pgConfig) --bindir (\(bindir.isEmpty ? "no answer" : bindir))")
        } else {
            tried.append("pg_config on PATH (not found)")
        }
        let versions =
            ((try? FileManager.default.contentsOfDirectory(atPath: places.versionedRoot)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        if let newest = versions.map({ "\(places.versionedRoot)/\($0)/bin" }).first(where: holdsTools) {
            return PostgresBinaries(directory: newest)
        }
        tried.append("\(places.versionedRoot)/*/bin")
        if let onPath = places.path.first(where: holdsTools) { return PostgresBinaries(directory: onPath) }
        tried.append("PATH (\(places.path.joined(separator: ":")))")
        throw .binariesNotFound(tried: tried)
    }

    private static func holdsTools(_ directory: String) -> Bool {
        !directory.isEmpty && isExecutable(directory + "/initdb") && isExecutable(directory + "/pg_ctl")
    }

    private static func isExecutable(_ path: String) -> Bool {
        FileManager.default.isExecutableFile(atPath: path)
    }
}

/// The operating-system account that runs `initdb`, `pg_ctl` and so the server.
enum ServiceAccount: Sendable, Equatable {
    /// The current user, who is not root.
    case current
    /// An unprivileged user, because PostgreSQL refuses to run as root.
    case user(name: String, uid: uid_t, gid: gid_t)

    /// The current user unless it is root; as root the `postgres` user, else a system user
    /// `invoiceflow`, created when missing.
    static func resolve(logger: Logger) throws(PrivateClusterError) -> ServiceAccount {
        guard geteuid() == 0 else { return .current }
        for name in ["postgres", "invoiceflow"] {
            if let account = lookUp(name) { return account }
        }
        logger.info("creating system user to run PostgreSQL", metadata: ["user": "invoiceflow"])
        let outcome: ProcessOutcome
        do {
            outcome = try Subprocess.run(
                "/usr/sbin/useradd",
                ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "invoiceflow"],
                timeout: .seconds(30)
            )
        } catch {
            throw .serviceUserUnavailable("useradd: \(error)")
        }
        guard outcome.status == 0, let account = lookUp("invoiceflow") else {
            throw .serviceUserUnavailable("useradd --system invoiceflow: \(outcome.output)")
        }
        return account
    }

    private static func lookUp(_ name: String) -> ServiceAccount? {
        guard let entry = getpwnam(name) else { return nil }
        return .user(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// The executable and arguments that run `tool` as this account, without a shell.
    func command(_ tool: String, _ arguments: [String]) -> (executable: String, arguments: [String]) {
        switch self {
        case .current: (tool, arguments)
        case .user(let name, _, _): ("/usr/sbin/runuser", ["-u", name, "--", tool] + arguments)
        }
    }

    /// Gives `path` to this account (a no-op for the current user).
    func takeOwnership(of path: String) throws(PrivateClusterError) {
        guard case .user(let name, let uid, let gid) = self else { return }
        guard chown(path, uid, gid) == 0 else {
            throw .fileSystem("chown \(path) to \(name): \(String(cString: strerror(errno)))")
        }
    }
}

/// What a finished subprocess left behind.
struct ProcessOutcome: Sendable {
    var status: Int32
    /// Standard output and standard error, interleaved, trimmed.
    var output: String
}

/// Runs a program directly (never through a shell string) with a deadline.
///
/// This uses `posix_spawn` and polls `waitpid` rather than Foundation's `Process`: on Linux `Process` missed
/// the exit of `runuser` children under the test runner (the termination handler never ran and the child
/// stayed a zombie), which turned every start into a hang.
enum Subprocess {
    static func run(
        _ executable: String,
        _ arguments: [String],
        timeout: Duration
    ) throws(PrivateClusterError) -> ProcessOutcome {
        let commandLine = ([executable] + arguments).joined(separator: " ")
        // Output goes to a file, not a pipe: `pg_ctl start` leaves a server behind that may inherit the
        // descriptors, and a pipe would then never reach end-of-file (or fill up and block the tool).
        let capturePath = FileManager.default.temporaryDirectory
            .appendingPathComponent("invoiceflow-\(UUID().uuidString).out").path
        guard FileManager.default.createFile(atPath: capturePath, contents: nil) else {
            throw .fileSystem("cannot create \(capturePath)")
        }
        defer { try? FileManager.default.removeItem(atPath: capturePath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, capturePath, O_WRONLY | O_APPEND, 0)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw .commandFailed(
                command: commandLine, status: -1, output: "cannot start: \(String(cString: strerror(spawned)))")
        }

        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid || (reaped < 0 && errno != EINTR) { break }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGTERM)
                let grace = ContinuousClock.now + .seconds(2)
                while waitpid(pid, &status, WNOHANG) == 0 {
                    if ContinuousClock.now >= grace {
                        kill(pid, SIGKILL)
                        _ = waitpid(pid, &status, 0)
                        break
                    }
                    usleep(10_000)
                }
                throw .commandTimedOut(
                    command: commandLine, seconds: Int(timeout.components.seconds), output: readCapture(capturePath))
            }
            usleep(10_000)
        }
        // WIFEXITED/WEXITSTATUS are macros; a signal death is reported as 128 + signal, as shells do.
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ProcessOutcome(status: exitStatus, output: readCapture(capturePath))
    }

    private static func readCapture(_ path: String) -> String {
        let data = FileManager.default.contents(atPath: path) ?? Data()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
