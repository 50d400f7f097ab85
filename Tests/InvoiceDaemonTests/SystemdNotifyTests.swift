import Foundation
import InvoiceStore
import InvoiceTestSupport
import PostgresClient
import Testing

@testable import InvoiceDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// `Type=notify`: the real binary, supervised through a real Unix datagram socket the test binds, as
/// systemd's `$NOTIFY_SOCKET` is.
@Suite("sd_notify: readiness, watchdog and stopping reported to the service manager", .serialized)
struct SystemdNotifyTests {
    @Test(
        "serve sends READY=1 once migrated and listening, WATCHDOG=1 when asked, and STOPPING=1 on SIGTERM",
        arguments: [false, true])
    func serveNotifies(abstractSocket: Bool) async throws {
        let socket = try NotifySocket(abstract: abstractSocket)
        let database = try await TestPostgres.createDatabase()
        let dataDirectory = FileManager.default.temporaryDirectory.appending(path: "notify-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dataDirectory) }
        let daemon = try DaemonProcess(
            arguments: ["serve"], dataDirectory: dataDirectory,
            extraEnvironment: [
                "NOTIFY_SOCKET": socket.address, "WATCHDOG_USEC": "400000",
                "INVOICEFLOW_DATABASE_URL": database.configuration.conninfo,
                "INVOICEFLOW_REPORT_REFRESH_MINUTES": "0",
            ])
        let ready = try #require(await socket.receive(containing: "READY=1", timeout: .seconds(90)))
        #expect(ready.contains("MAINPID="))
        // Ready means migrated and listening: both were logged before the datagram was sent (the test reads the
        // daemon's output on its own, so it may see them a moment after the datagram).
        #expect(try await daemon.waitForLine(containing: "schema up to date", timeout: .seconds(5)))
        #expect(try await daemon.waitForLine(containing: "listener connected", timeout: .seconds(5)))
        #expect(await socket.receive(containing: "WATCHDOG=1", timeout: .seconds(5)) != nil)
        #expect(try await daemon.terminate(timeout: .seconds(30)) == 0)
        #expect(await socket.receive(containing: "STOPPING=1", timeout: .seconds(1)) != nil)
        #expect(socket.received.filter { $0.contains("READY=1") }.count == 1)
        try await database.drop()
    }

    @Test("without NOTIFY_SOCKET nothing is sent and nothing fails")
    func unsupervised() {
        let notifier = SystemdNotifier(environment: [:], logger: TestPostgres.silentLogger)
        #expect(notifier.socketPath == nil)
        #expect(notifier.watchdogInterval == nil)
        #expect(!notifier.notify(["READY=1"]))
    }

    @Test(
        "the watchdog interval is half of WATCHDOG_USEC, only for the process WATCHDOG_PID names",
        arguments: [
            (["WATCHDOG_USEC": "10000000"], Duration?.some(.seconds(5))),
            (["WATCHDOG_USEC": "10000000", "WATCHDOG_PID": String(getpid())], .seconds(5)),
            (["WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"], nil),
            (["WATCHDOG_USEC": "0"], nil),
        ])
    func watchdogInterval(environment: [String: String], expected: Duration?) {
        let notifier = SystemdNotifier(
            environment: environment.merging(["NOTIFY_SOCKET": "/run/systemd/notify"]) { $1 },
            logger: TestPostgres.silentLogger)
        #expect(notifier.watchdogInterval == expected)
    }

    @Test("a socket nobody listens on is reported as not delivered, so a wrong NOTIFY_SOCKET is logged")
    func undeliverable() {
        let notifier = SystemdNotifier(
            environment: ["NOTIFY_SOCKET": "/tmp/no-such-notify-\(UUID().uuidString)"],
            logger: TestPostgres.silentLogger)
        #expect(!notifier.notify(["READY=1"]))
    }
}

/// A bound Unix datagram socket standing in for systemd's notification socket.
final class NotifySocket: @unchecked Sendable {
    // @unchecked: `received` is only touched by the test task that owns this object, one call at a time
    // (receive is awaited before the next use); the descriptor is immutable after init.
    let address: String
    private let descriptor: Int32
    private let path: String?
    private(set) var received: [String] = []

    init(abstract: Bool) throws {
        let name = "if-notify-" + UUID().uuidString.prefix(8)
        address = abstract ? "@" + name : "/tmp/" + name
        path = abstract ? nil : address
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    }

    deinit {
        close(descriptor)
        if let path { unlink(path) }
    }

    /// Waits for a datagram containing `text` (earlier ones count too); returns it, or nil at the timeout.
    func receive(containing text: String, timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let match = received.first(where: { $0.contains(text) }) { return match }
            guard ContinuousClock.now < deadline else { return nil }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) > 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count > 0 { received.append(String(decoding: buffer[..<count], as: UTF8.self)) }
            } else {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}
