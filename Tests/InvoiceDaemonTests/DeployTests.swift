import Foundation
import InvoiceDaemon
import Testing

/// The files under `deploy/` are what an administrator installs: they must be accepted by the tools that read them.
@Suite("deploy/: the systemd unit and the example configuration", .serialized)
struct DeployTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let unit = repositoryRoot.appending(path: "deploy/invoiceflow.service")
    static let example = repositoryRoot.appending(path: "deploy/invoiceflow.env.example")
    /// `systemd-analyze` from the Debian package `systemd`, if this machine has it.
    static let systemdAnalyze: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return (path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin"])
            .map { $0 + "/systemd-analyze" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    @Test(
        "the systemd unit passes systemd-analyze verify with no warning",
        .enabled(
            if: systemdAnalyze != nil,
            "systemd-analyze is not installed (Debian package systemd); the unit was not verified"))
    func unitVerifies() throws {
        let output = try Self.verify(unitText: try String(contentsOf: Self.unit, encoding: .utf8))
        #expect(output.status == 0, "systemd-analyze verify failed: \(output.text)")
        // Unknown keys and bad values are only warnings (exit 0); an installed unit must have none.
        #expect(output.text.isEmpty, "systemd-analyze verify warned: \(output.text)")
    }

    @Test(
        "systemd-analyze verify does catch a broken unit, so the check above can fail",
        .enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed (Debian package systemd)"))
    func brokenUnitIsCaught() throws {
        let text = try String(contentsOf: Self.unit, encoding: .utf8)
            .replacingOccurrences(of: "Restart=on-failure", with: "Restart=sometimes")
        #expect(text.contains("Restart=sometimes"))
        let output = try Self.verify(unitText: text)
        #expect(output.text.contains("sometimes"), "systemd-analyze said: \(output.text)")
    }

    @Test("the example configuration is accepted by `invoiceflow config check --config`")
    func exampleAcceptedByConfigCheck() async throws {
        let process = try DaemonProcess(
            arguments: ["config", "check", "--config", Self.example.path], dataDirectory: Self.temporaryPath())
        #expect(try await process.waitForExit(timeout: .seconds(30)) == 0, "config check said: \(process.output)")
        #expect(process.output.contains("configuration is valid"))
    }

    @Test("config check refuses a file with a misspelt key, naming it")
    func misspeltKeyRefused() async throws {
        let file = Self.temporaryPath() + ".env"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let text = try String(contentsOf: Self.example, encoding: .utf8) + "\nINVOICEFLOW_POOLSIZE=4\n"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let process = try DaemonProcess(
            arguments: ["config", "check", "--config", file], dataDirectory: Self.temporaryPath())
        #expect(try await process.waitForExit(timeout: .seconds(30)) != 0)
        #expect(process.output.contains("INVOICEFLOW_POOLSIZE"))
    }

    @Test("the unit waits for READY=1 and reads its secrets from credential files through keys the daemon knows")
    func unitNotifiesAndUsesCredentials() throws {
        let text = try String(contentsOf: Self.unit, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("Type=notify"))
        #expect(lines.contains { $0.hasPrefix("WatchdogSec=") })
        // The active credential: the password for libpq, so the environment file holds no secret.
        #expect(lines.contains("LoadCredential=pgpass:/etc/invoiceflow/pgpass"))
        #expect(lines.contains("Environment=PGPASSFILE=%d/pgpass"))
        let known = Set(Configuration.keys.map(\.name))
        // Active and commented-out Environment= lines alike must name real keys.
        let assigned = lines.map { String($0.drop { $0 == "#" }) }.filter { $0.hasPrefix("Environment=INVOICEFLOW_") }
            .map { String($0.dropFirst("Environment=".count).prefix { $0 != "=" }) }
        #expect(assigned.contains("INVOICEFLOW_DATABASE_URL_FILE"))
        #expect(assigned.contains("INVOICEFLOW_SMTP_URL_FILE"))
        for key in assigned { #expect(known.contains(key), "the unit sets \(key), which the daemon refuses") }
        // Each credential the unit loads is the file a *_FILE key points at (%d = $CREDENTIALS_DIRECTORY).
        for line in lines.map({ String($0.drop { $0 == "#" }) }) where line.hasPrefix("LoadCredential=") {
            let name = line.dropFirst("LoadCredential=".count).prefix { $0 != ":" }
            #expect(lines.contains { $0.drop { $0 == "#" }.hasSuffix("=%d/\(name)") }, "credential \(name) unused")
        }
    }

    @Test("the daemon's environment in docker-compose.yml is accepted by config check")
    func composeEnvironmentAccepted() async throws {
        let text = try String(contentsOf: Self.repositoryRoot.appending(path: "docker-compose.yml"), encoding: .utf8)
        var environment: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("INVOICEFLOW_"), let colon = trimmed.firstIndex(of: ":") else { continue }
            var value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            environment[String(trimmed[..<colon])] = value
        }
        #expect(environment["INVOICEFLOW_SMTP_URL"] != nil, "the compose file should send mail to Mailpit")
        let process = try DaemonProcess(
            arguments: ["config", "check"], dataDirectory: Self.temporaryPath(), extraEnvironment: environment)
        #expect(try await process.waitForExit(timeout: .seconds(30)) == 0, "config check said: \(process.output)")
    }

    // INVOICEFLOW_CONFIG is the path of this file itself and may not appear inside it.
    @Test(
        "the example documents every configuration key the daemon knows",
        arguments: Configuration.keys.map(\.name).filter { $0 != "INVOICEFLOW_CONFIG" })
    func exampleNamesKey(_ key: String) throws {
        let text = try String(contentsOf: Self.example, encoding: .utf8)
        let assigned = text.split(separator: "\n").contains { line in
            line.drop { $0 == "#" }.hasPrefix(key + "=")
        }
        #expect(assigned, "deploy/invoiceflow.env.example has no \(key)= line (set or commented out)")
    }

    /// Runs `systemd-analyze verify` on a copy of the unit whose binary path points at an executable that exists
    /// here (verify refuses a unit whose ExecStart is missing, and the binary is not installed on build machines).
    static func verify(unitText: String) throws -> (status: Int32, text: String) {
        let directory = temporaryPath()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let copy = directory + "/invoiceflow.service"
        try unitText.replacingOccurrences(of: "/usr/local/bin/invoiceflow", with: "/bin/true")
            .write(toFile: copy, atomically: true, encoding: .utf8)
        let process = Process()
        guard let systemdAnalyze else { throw CocoaError(.fileNoSuchFile) }
        process.executableURL = URL(fileURLWithPath: systemdAnalyze)
        process.arguments = ["verify", "--man=no", copy]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (process.terminationStatus, text)
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appending(path: "invoiceflow-deploy-\(UUID().uuidString)").path
    }
}
