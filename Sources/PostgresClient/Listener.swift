import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Listens for PostgreSQL notifications on its own thread and turns them into ``ListenerEvents``.
///
/// Notifications are hints; the tables are the truth. After every (re)connect the listener first issues
/// LISTEN and then emits `.sweep`, because anything committed while it was not listening was never
/// delivered and never will be. It detects a dead connection by TCP keepalives (in the configuration's
/// defaults) and by a `SELECT 1` ping after `pingInterval` of silence that must be answered within
/// `pingTimeout`, and reconnects with capped exponential backoff and jitter for as long as it runs. It
/// connects with `application_name=invoiceflow-listener`; every other setting, such as a multi-host
/// `target_session_attrs=read-write`, is used as configured, so with failover it listens on the primary.
///
/// Nothing here blocks Swift's cooperative threads: the connection lives on a dedicated thread that waits in
/// `poll()` on the socket and on a pipe that cancellation writes to.
public final class PostgresListener: Sendable {
    /// The application name the listener's connection shows in `pg_stat_activity`.
    public static let applicationName = "invoiceflow-listener"

    private let configuration: PostgresConfiguration
    private let channels: [String]
    private let logger: Logger
    private let pingInterval: Duration
    private let pingTimeout: Duration
    private let reconnectBackoff: Backoff
    private let buffer: ListenerEventBuffer
    private let started = Atomic(false)
    private let connection = ListenerConnectionState()

    /// Prepares a listener; nothing connects until ``run()``.
    /// - Parameters:
    ///   - configuration: where to connect; `application_name` is replaced, everything else kept.
    ///   - channels: the channels to LISTEN on; any text is allowed, it is quoted as an identifier.
    ///   - logger: receives state changes (connected, lost, reconnected), not one line per retry.
    ///   - pingInterval: how long the connection may be silent before it is pinged.
    ///   - pingTimeout: how long a ping may take before the connection is declared dead.
    ///   - reconnectBackoff: the waits between failed connection attempts.
    ///   - bufferLimit: the most distinct notifications held for a slow consumer before they are replaced
    ///     by one `.sweep(reason: .overflow)`.
    public init(
        configuration: PostgresConfiguration,
        channels: [String],
        logger: Logger,
        pingInterval: Duration = .seconds(10),
        pingTimeout: Duration = .seconds(5),
        reconnectBackoff: Backoff = .default,
        bufferLimit: Int = 1024
    ) {
        self.configuration = configuration.setting("application_name", Self.applicationName)
        self.channels = channels
        self.logger = logger
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.reconnectBackoff = reconnectBackoff
        self.buffer = ListenerEventBuffer(limit: bufferLimit)
    }

    /// The events of this listener, in order; the sequence ends when ``run()`` returns.
    public var events: ListenerEvents { ListenerEvents(buffer: buffer) }

    /// Whether the listener holds a connection that has issued LISTEN right now (for health checks): false
    /// before the first connect, during an outage and after ``run()`` returned.
    public var isConnected: Bool { connection.isConnected }

    /// Runs the listener on its own thread until the calling task is cancelled, then returns within
    /// milliseconds, whether it was connected, connecting or waiting to retry. A listener runs once.
    ///
    /// - Throws: ``PostgresListenerError`` when the listener already ran or the stop pipe cannot be made;
    ///   never because of the database, which it waits for instead.
    public func run() async throws {
        guard started.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            throw PostgresListenerError.alreadyStarted
        }
        defer { buffer.finish() }
        let stop = try ListenerStopSignal()
        let session = ListenerSession(
            conninfo: configuration.conninfo,
            channels: channels,
            logger: logger,
            pingInterval: pingInterval,
            pingTimeout: pingTimeout,
            backoff: reconnectBackoff,
            connectTimeout: .seconds(Int64(configuration.value(for: "connect_timeout") ?? "") ?? 10),
            buffer: buffer,
            stop: stop,
            state: connection
        )
        await withTaskCancellationHandler {
            await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                let thread = Thread {
                    session.run()
                    finished.resume()
                }
                thread.name = "invoiceflow-listener"
                thread.start()
            }
        } onCancel: {
            stop.request()
        }
    }
}

/// Misuse of a ``PostgresListener``.
public enum PostgresListenerError: Error, Sendable, Hashable {
    /// `run()` was called a second time; make a new listener instead.
    case alreadyStarted
    /// The operating system refused the pipe that wakes the listener thread; the text is `strerror`.
    case stopSignalUnavailable(String)
}

/// A flag plus a pipe: setting the flag and writing one byte wakes a thread blocked in `poll()`. The pipe is
/// never drained, so once requested every later wait returns at once.
final class ListenerStopSignal: Sendable {
    let readDescriptor: Int32
    private let writeDescriptor: Int32
    private let requested = Atomic(false)

    init() throws(PostgresListenerError) {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else {
            throw .stopSignalUnavailable(String(cString: strerror(errno)))
        }
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }

    var isRequested: Bool { requested.load(ordering: .acquiring) }

    func request() {
        guard !requested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }
}

/// The loop on the listener thread: connect, LISTEN, sweep, wait for notifications and ping; on loss, back
/// off and start over. All its state lives on that one thread.
struct ListenerSession: Sendable {
    let conninfo: String
    let channels: [String]
    let logger: Logger
    let pingInterval: Duration
    let pingTimeout: Duration
    let backoff: Backoff
    let connectTimeout: Duration
    let buffer: ListenerEventBuffer
    let stop: ListenerStopSignal
    let state: ListenerConnectionState

    /// How long a connection must have lived for the next outage to start its backoff afresh.
    static let stableConnection: Duration = .seconds(5)

    /// How often, at most, a continuing outage is logged again.
    static let outageLogInterval: Duration = .seconds(30)

    func run() {
        var everConnected = false
        var outage: Outage? = nil
        // A connection that dies right after it was made (a server that keeps killing sessions, LISTEN refused
        // on a standby) must not reset the backoff, or the loop would reconnect and log several times a second.
        var connectedAt: ContinuousClock.Instant? = nil
        var failuresBefore = 0
        attempts: while !stop.isRequested {
            do throws(ListenerInterruption) {
                let connection = try ListenerConnection.open(
                    conninfo, deadline: .now + connectTimeout, stop: stop)
                try listen(on: connection)
                if let outage {
                    logger.info(
                        "listener reconnected",
                        metadata: [
                            "attempts": "\(outage.failures)", "downtime": "\(outage.started.duration(to: .now))",
                            "backend_pid": "\(connection.backendPID)",
                        ])
                } else {
                    logger.info(
                        "listener connected",
                        metadata: ["channels": "\(channels)", "backend_pid": "\(connection.backendPID)"])
                }
                if let outage { failuresBefore = outage.failures }
                outage = nil
                connectedAt = .now
                state.isConnected = true
                buffer.yield(.sweep(reason: everConnected ? .reconnected : .connected))
                everConnected = true
                try serve(connection)
            } catch {
                state.isConnected = false
                guard case .lost(let reason) = error else { break attempts }
                if var current = outage {
                    current.record(reason, logger: logger)
                    outage = current
                } else {
                    logger.warning(
                        everConnected ? "listener connection lost" : "listener cannot connect",
                        metadata: ["reason": "\(reason)"])
                    let stable = connectedAt.map { $0.duration(to: .now) >= Self.stableConnection } ?? false
                    outage = Outage(failuresBefore: stable ? 0 : failuresBefore)
                }
                let delay = backoff.delay(afterFailures: outage!.failures)
                if waitFor(-1, events: 0, stop: stop, until: .now + delay) == .woken { break attempts }
            }
        }
        state.isConnected = false
        logger.info("listener stopped")
    }

    private func listen(on connection: ListenerConnection) throws(ListenerInterruption) {
        guard !channels.isEmpty else { return }
        var statement = ""
        for channel in channels { statement += "LISTEN \(try connection.quotedIdentifier(channel));" }
        try connection.run(statement, until: .now + connectTimeout, stop: stop, deliver: deliver)
    }

    /// Waits for notifications until the connection dies (throws `.lost`) or a stop is requested.
    private func serve(_ connection: ListenerConnection) throws(ListenerInterruption) {
        var lastTraffic = ContinuousClock.now
        var pingDeadline: ContinuousClock.Instant? = nil
        while true {
            switch waitFor(
                connection.socket, events: Int16(POLLIN), stop: stop, until: pingDeadline ?? lastTraffic + pingInterval)
            {
            case .woken:
                throw .stopped
            case .ready:
                if try connection.absorbInput(deliver) { pingDeadline = nil }
                lastTraffic = .now
            case .timedOut:
                if pingDeadline != nil { throw .lost("no answer to a ping within \(pingTimeout)") }
                try connection.send("SELECT 1")
                pingDeadline = .now + pingTimeout
            }
        }
    }

    private func deliver(channel: String, payload: String) {
        buffer.yield(.notification(channel: channel, payload: payload))
    }
}

/// Whether the listener thread is connected, read from any thread.
final class ListenerConnectionState: Sendable {
    private let connected = Atomic(false)

    var isConnected: Bool {
        get { connected.load(ordering: .acquiring) }
        set { connected.store(newValue, ordering: .releasing) }
    }
}

/// A stretch of time without a connection, counted so it is logged once at its start, every
/// ``ListenerSession/outageLogInterval`` while it lasts, and once at its end, however fast the retries.
struct Outage {
    let started = ContinuousClock.now
    /// Failed attempts so far, counting those of the outages just before it when the connections in between
    /// were short-lived; this drives the backoff.
    private(set) var failures: Int
    private var lastLogged = ContinuousClock.now

    init(failuresBefore: Int) {
        failures = failuresBefore + 1
    }

    mutating func record(_ reason: String, logger: Logger) {
        failures += 1
        logger.debug("listener connection attempt failed", metadata: ["reason": "\(reason)"])
        guard lastLogged.duration(to: .now) >= ListenerSession.outageLogInterval else { return }
        lastLogged = .now
        logger.warning(
            "listener still disconnected",
            metadata: [
                "attempts": "\(failures)", "since_s": "\(started.duration(to: .now).components.seconds)",
                "reason": "\(reason)",
            ])
    }
}
