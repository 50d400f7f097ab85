import Foundation
import Logging
import Testing

@testable import PostgresClient

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh directory under /tmp (short, so the socket path fits) that the service user can reach.
func makeClusterDirectory() throws -> String {
    let path = "/tmp/ifc-\(UUID().uuidString.prefix(8).lowercased())"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs SQL with the installed `psql`: an independent client, so these tests do not lean on the code
/// under test to prove the server answers.
func psql(_ cluster: PrivateCluster, _ sql: String) throws -> String {
    let binaries = try PostgresBinaries.locate(configured: cluster.binDirectory)
    let outcome = try Subprocess.run(
        binaries.directory + "/psql",
        ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", cluster.conninfo, "-c", sql],
        timeout: .seconds(30)
    )
    guard outcome.status == 0 else { throw PrivateClusterError.databaseSetup(outcome.output) }
    return outcome.output
}

/// How a `postmaster.pid` became stale.
enum StalePIDOrigin: String, CaseIterable, Sendable {
    /// The server was killed with SIGKILL and left its lock file.
    case killedServer
    /// The recorded process no longer exists.
    case vanishedProcess
    /// After a reboot the recorded number belongs to an unrelated live process, here this test process.
    case unrelatedLiveProcess
}

@Suite("Private PostgreSQL cluster", .serialized)
struct PrivateClusterTests {
    let logger = Logger(label: "test.private-cluster")

    @Test("start on an empty directory initialises a cluster that answers, and a second start reuses its data")
    func startStopStartReusesData() throws {
        let directory = try makeClusterDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = PrivateCluster(directory: directory, port: 55435, logger: logger)
        defer { try? cluster.stop() }

        let configuration = try cluster.start()
        #expect(configuration.value(for: "dbname") == "invoiceflow")
        #expect(configuration.value(for: "host") == directory + "/socket")
        #expect(try psql(cluster, "SELECT 1") == "1")
        #expect(try psql(cluster, "SHOW listen_addresses") == "")
        _ = try psql(cluster, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
        let socketMode = try FileManager.default.attributesOfItem(atPath: cluster.socketDirectory)[.posixPermissions]
        #expect(socketMode as? Int == 0o700)

        try cluster.stop()
        #expect(throws: (any Error).self) { try psql(cluster, "SELECT 1") }

        let again = try cluster.start()
        #expect(again == configuration)
        #expect(try psql(cluster, "SELECT note FROM kept") == "still here")
    }

    @Test("a start while the server already runs reuses it")
    func startWhileRunningReuses() throws {
        let directory = try makeClusterDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = PrivateCluster(directory: directory, port: 55435, logger: logger)
        defer { try? cluster.stop() }
        _ = try cluster.start()
        let backendStart = try psql(cluster, "SELECT pg_postmaster_start_time()")
        _ = try cluster.start()
        #expect(try psql(cluster, "SELECT pg_postmaster_start_time()") == backendStart)
    }

    @Test("two processes starting the same cluster at once both get it, initialised and started once")
    func concurrentStarts() async throws {
        let directory = try makeClusterDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = PrivateCluster(directory: directory, port: 55435, logger: logger)
        defer { try? cluster.stop() }
        // Each start blocks for seconds, so each gets a thread of its own rather than a cooperative one.
        let configurations = try await withThrowingTaskGroup(of: PostgresConfiguration.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await withCheckedThrowingContinuation { continuation in
                        Thread { continuation.resume(with: Result { try cluster.start() }) }.start()
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(configurations.count == 2 && configurations[0] == configurations[1])
        #expect(try psql(cluster, "SELECT 1") == "1")
    }

    @Test("a stale postmaster.pid does not block a start", arguments: StalePIDOrigin.allCases)
    func stalePIDFile(origin: StalePIDOrigin) throws {
        let directory = try makeClusterDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = PrivateCluster(directory: directory, port: 55435, logger: logger)
        defer { try? cluster.stop() }
        _ = try cluster.start()
        _ = try psql(cluster, "CREATE TABLE kept (note text)")
        let pidFile = cluster.dataDirectory + "/postmaster.pid"
        let lockContents = try String(contentsOfFile: pidFile, encoding: .utf8)
        let serverPID = pid_t(lockContents.split(separator: "\n")[0])!

        switch origin {
        case .killedServer:
            kill(serverPID, SIGKILL)
            try waitUntil { !PrivateCluster.isLivePostgres(serverPID) }
        case .vanishedProcess, .unrelatedLiveProcess:
            try cluster.stop()
            let recorded: pid_t
            if origin == .vanishedProcess {
                recorded = try spawnedAndReapedPID()
                #expect(!PrivateCluster.isLivePostgres(recorded))
            } else {
                recorded = getpid()
            }
            let lines = lockContents.split(separator: "\n", omittingEmptySubsequences: false)
            let stale = (["\(recorded)"] + lines.dropFirst()).joined(separator: "\n")
            try stale.write(toFile: pidFile, atomically: false, encoding: .utf8)
        }
        #expect(FileManager.default.fileExists(atPath: pidFile))

        _ = try cluster.start()
        #expect(try psql(cluster, "SELECT count(*) FROM kept") == "0")
    }

    @Test("two clusters in different directories share a port number without clashing")
    func twoClustersSamePort() throws {
        let first = try makeClusterDirectory()
        let second = try makeClusterDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        let clusters = [first, second].map { PrivateCluster(directory: $0, port: 55436, logger: logger) }
        defer { for cluster in clusters { try? cluster.stop() } }
        for cluster in clusters { _ = try cluster.start() }
        #expect(
            try psql(clusters[0], "SELECT setting FROM pg_settings WHERE name = 'data_directory'") == first + "/data")
        #expect(
            try psql(clusters[1], "SELECT setting FROM pg_settings WHERE name = 'data_directory'") == second + "/data")
    }

    @Test("the psql command a person is shown connects as printed")
    func psqlCommandWorks() throws {
        let directory = try makeClusterDirectory() + "/with space"
        defer { try? FileManager.default.removeItem(atPath: String(directory.dropLast(11))) }
        let cluster = PrivateCluster(directory: directory, port: 55437, logger: logger)
        defer { try? cluster.stop() }
        _ = try cluster.start()
        let binaries = try PostgresBinaries.locate(configured: nil)
        let outcome = try Subprocess.run(
            "/bin/sh",
            ["-c", "PATH=\(binaries.directory):$PATH \(cluster.psqlCommand) -X -A -t -c 'SELECT current_database()'"],
            timeout: .seconds(30)
        )
        #expect(outcome.status == 0)
        #expect(outcome.output == "invoiceflow")
    }

    @Test("missing binaries give an error naming every place looked at")
    func missingBinaries() throws {
        let empty = try makeClusterDirectory()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let places = PostgresBinaries.SearchPlaces(path: [empty], versionedRoot: empty + "/postgresql")
        let error = #expect(throws: PrivateClusterError.self) {
            try PostgresBinaries.locate(configured: nil, places: places)
        }
        guard case .binariesNotFound(let tried) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(tried.count == 3)
        #expect(error?.description.contains(empty + "/postgresql/*/bin") == true)

        let configured = PrivateCluster(directory: empty, binDirectory: "/nonexistent/bin", logger: logger)
        let startError = #expect(throws: PrivateClusterError.self) { try configured.start() }
        #expect(startError?.description.contains("/nonexistent/bin (configured)") == true)
    }

    @Test("a data directory holding something other than a cluster is refused, not initialised over")
    func foreignDataDirectory() throws {
        let directory = try makeClusterDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = PrivateCluster(directory: directory, port: 55435, logger: logger)
        try FileManager.default.createDirectory(atPath: cluster.dataDirectory, withIntermediateDirectories: true)
        try "keep me".write(toFile: cluster.dataDirectory + "/notes.txt", atomically: false, encoding: .utf8)
        #expect(throws: PrivateClusterError.notAClusterDirectory(cluster.dataDirectory)) { try cluster.start() }
        #expect(try String(contentsOfFile: cluster.dataDirectory + "/notes.txt", encoding: .utf8) == "keep me")
    }

    @Test(
        "as root, a directory the server's user cannot reach gives an error naming it",
        .enabled(if: geteuid() == 0, "only root hands the cluster to another user")
    )
    func unreachableForServiceUser() throws {
        let parent = try makeClusterDirectory()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: parent)
        let cluster = PrivateCluster(directory: parent + "/cluster", port: 55435, logger: logger)
        let error = #expect(throws: PrivateClusterError.self) { try cluster.start() }
        guard case .unreachableByServiceUser(let directory, _) = error else {
            Issue.record("unexpected error \(String(describing: error))")
            return
        }
        #expect(directory == parent + "/cluster")
    }

    @Test("the search finds the installed server binaries")
    func locatesInstalledBinaries() throws {
        let binaries = try PostgresBinaries.locate(configured: nil)
        #expect(FileManager.default.isExecutableFile(atPath: binaries.initdb))
        #expect(FileManager.default.isExecutableFile(atPath: binaries.pgCtl))
    }

    @Test("a directory too deep for a Unix socket name is refused before anything is created")
    func socketPathTooLong() throws {
        let deep = "/tmp/" + String(repeating: "d", count: 120)
        let cluster = PrivateCluster(directory: deep, logger: logger)
        #expect(throws: PrivateClusterError.socketPathTooLong(deep + "/socket/.s.PGSQL.5432")) {
            try cluster.start()
        }
        #expect(!FileManager.default.fileExists(atPath: deep))
    }

    @Test(
        "conninfo values are quoted only when libpq needs it",
        arguments: [
            ("/tmp/plain", "/tmp/plain"),
            ("/tmp/with space", "'/tmp/with space'"),
            ("/tmp/it's", "'/tmp/it\\'s'"),
        ]
    )
    func conninfoQuoting(value: String, quoted: String) {
        #expect(PrivateCluster.conninfoValue(value) == quoted)
    }
}

/// The number of a process that has exited and been reaped, so nothing lives under it now.
func spawnedAndReapedPID() throws -> pid_t {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/true")
    try process.run()
    process.waitUntilExit()
    return process.processIdentifier
}

/// Polls `condition` every 50 ms for up to `seconds`; throws when it never holds.
func waitUntil(seconds: Double = 10, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else { throw PrivateClusterError.fileSystem("condition not met in \(seconds) s") }
        usleep(50_000)
    }
}
