import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Tells the service manager how the daemon is doing, by the sd_notify protocol: datagrams of
/// `KEY=value` lines to the Unix socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
/// namespace). With `Type=notify` systemd counts the daemon started only at `READY=1` — after the schema is
/// migrated and the listener is connected — instead of when the binary was executed.
///
/// Without `$NOTIFY_SOCKET` (not under systemd, or another `Type=`) every call does nothing. No libsystemd:
/// the protocol is one `sendto` on a datagram socket.
public final class SystemdNotifier: Sendable {
    /// The socket address from `$NOTIFY_SOCKET`; nil when the daemon is not supervised that way.
    public let socketPath: String?
    /// Half of `$WATCHDOG_USEC` when systemd expects `WATCHDOG=1` pings (`WatchdogSec=`) from this process.
    public let watchdogInterval: Duration?
    private let logger: Logger
    private let readySent = Atomic(false)

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        self.logger = logger
        // WATCHDOG_PID names the process the pings are expected from; a child that inherited it must not ping.
        let forUs = environment["WATCHDOG_PID"].map { $0 == String(getpid()) } ?? true
        if path != nil, forUs, let micros = environment["WATCHDOG_USEC"].flatMap(Int64.init), micros > 0 {
            watchdogInterval = .microseconds(micros / 2)
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends `READY=1` with a status line, once: later calls (a reconnect's sweep) do nothing.
    public func ready() {
        guard !readySent.exchange(true, ordering: .relaxed) else { return }
        notify(["READY=1", "STATUS=serving", "MAINPID=\(getpid())"])
    }

    /// Sends the given `KEY=value` assignments in one datagram; returns whether it was delivered.
    /// A failure is logged (a wrong `NOTIFY_SOCKET` would otherwise surface only as a start timeout).
    @discardableResult
    public func notify(_ assignments: [String]) -> Bool {
        guard let socketPath else { return false }
        let message = assignments.joined(separator: "\n")
        let error = Self.send(message, to: socketPath)
        if let error {
            logger.warning(
                "cannot notify the service manager", metadata: ["socket": "\(socketPath)", "error": "\(error)"])
        } else {
            logger.debug("service manager notified", metadata: ["state": "\(message)"])
        }
        return error == nil
    }

    /// One datagram to a Unix socket path (`@` = abstract namespace); nil on success, else `strerror`.
    static func send(_ message: String, to path: String) -> String? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        // An abstract address starts with a NUL byte and is not NUL-terminated: its length is exact.
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return "socket path longer than \(capacity - 1) bytes" }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            if !abstract { raw[bytes.count] = 0 }
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        #if canImport(Glibc)
            let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
            let descriptor = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard descriptor >= 0 else { return String(cString: strerror(errno)) }
        defer { close(descriptor) }
        let sent = Array(message.utf8).withUnsafeBytes { payload in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, payload.baseAddress, payload.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent < 0 ? String(cString: strerror(errno)) : nil
    }
}

/// Pings the service manager's watchdog while the daemon runs (when `WatchdogSec=` asks for it) and sends
/// `STOPPING=1` as soon as the graceful shutdown starts, so `systemctl status` says "deactivating" at once.
struct SystemdNotifyService: Service {
    let notifier: SystemdNotifier

    func run() async throws {
        if let interval = notifier.watchdogInterval {
            try? await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    notifier.notify(["WATCHDOG=1"])
                }
            }
        } else {
            try? await gracefulShutdown()
        }
        notifier.notify(["STOPPING=1", "STATUS=stopping"])
    }
}
