internal import CLibPQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why the listener thread left a connection, or never got one.
enum ListenerInterruption: Error {
    /// The listener was asked to stop.
    case stopped
    /// Connecting failed or the connection died; the text says why, for the log.
    case lost(String)
}

/// What a wait on the socket ended with.
enum Readiness {
    case ready
    case woken
    case timedOut
}

/// Waits until `descriptor` is ready for `events` (skipped when negative), the stop signal fires, or the
/// deadline passes. `poll()` never busy-spins and the stop signal's pipe makes the wait end at once.
func waitFor(
    _ descriptor: Int32,
    events: Int16,
    stop: ListenerStopSignal,
    until deadline: ContinuousClock.Instant?
) -> Readiness {
    var descriptors = [
        pollfd(fd: stop.readDescriptor, events: Int16(POLLIN), revents: 0),
        pollfd(fd: descriptor, events: events, revents: 0),
    ]
    while true {
        if stop.isRequested { return .woken }
        var timeout: Int32 = -1
        if let deadline {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return .timedOut }
            let (seconds, attoseconds) = remaining.components
            timeout = Int32(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1, 3_600_000))
        }
        let count = poll(&descriptors, nfds_t(descriptors.count), timeout)
        if count < 0 {
            if errno == EINTR { continue }
            return .ready  // let libpq run into the error and report it
        }
        if descriptors[0].revents != 0 { return .woken }
        if descriptors[1].revents != 0 { return .ready }
        if count == 0, let deadline, ContinuousClock.now >= deadline { return .timedOut }
    }
}

/// The listener's own `PGconn*`, used only on the listener thread. Unlike ``LibPQConnection`` it connects
/// without blocking (`PQconnectStart`/`PQconnectPoll`), so a stop request or a deadline ends a connect to an
/// unresponsive host at once instead of after libpq's own timeout. (libpq still resolves host names
/// synchronously inside `PQconnectPoll`; a hung DNS lookup delays a stop until the resolver gives up.)
final class ListenerConnection {
    private let handle: OpaquePointer
    /// The last notice or asynchronous error the server sent (e.g. "terminating connection due to
    /// administrator command"), so a connection loss can say why.
    private(set) var lastServerMessage: String?

    private init(handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        PQfinish(handle)
    }

    /// Connects to `conninfo`, giving up at `deadline` or when `stop` fires.
    static func open(
        _ conninfo: String,
        deadline: ContinuousClock.Instant,
        stop: ListenerStopSignal
    ) throws(ListenerInterruption) -> ListenerConnection {
        guard let handle = PQconnectStart(conninfo) else { throw .lost("libpq could not allocate a connection") }
        let connection = ListenerConnection(handle: handle)
        // Without a receiver of our own libpq prints server notices to stderr.
        PQsetNoticeReceiver(
            handle,
            { context, result in
                guard let context, let result, let text = PQresultErrorMessage(result) else { return }
                let connection = Unmanaged<ListenerConnection>.fromOpaque(context).takeUnretainedValue()
                connection.lastServerMessage = String(cString: text).trimmingTrailingWhitespace()
            },
            Unmanaged.passUnretained(connection).toOpaque()
        )
        guard PQstatus(handle) != CONNECTION_BAD else { throw .lost(connection.errorMessage) }
        var state = PGRES_POLLING_WRITING
        while state != PGRES_POLLING_OK {
            let events: Int16
            switch state {
            case PGRES_POLLING_READING: events = Int16(POLLIN)
            case PGRES_POLLING_WRITING: events = Int16(POLLOUT)
            default: throw .lost(connection.errorMessage)
            }
            let socket = PQsocket(handle)
            guard socket >= 0 else { throw .lost(connection.errorMessage) }
            switch waitFor(socket, events: events, stop: stop, until: deadline) {
            case .woken: throw .stopped
            case .timedOut: throw .lost("timed out connecting")
            case .ready: state = PQconnectPoll(handle)
            }
        }
        return connection
    }

    /// libpq's last error for this connection, one line.
    var errorMessage: String {
        guard let message = PQerrorMessage(handle) else { return "unknown libpq error" }
        // libpq's messages span lines ("...\n\tThis probably means..."); a log field reads better as one.
        let text = String(cString: message).split(whereSeparator: \.isNewline)
            .map { $0.trimmingPrefix(while: \.isWhitespace) }.joined(separator: " ")
        return text.isEmpty ? (lastServerMessage ?? "connection lost") : text
    }

    /// The socket to wait on; it changes with every connection.
    var socket: Int32 { PQsocket(handle) }

    /// The server process serving this connection.
    var backendPID: Int32 { PQbackendPID(handle) }

    /// `name` quoted as an SQL identifier by libpq, so any channel name is safe in LISTEN.
    func quotedIdentifier(_ name: String) throws(ListenerInterruption) -> String {
        guard let quoted = PQescapeIdentifier(handle, name, name.utf8.count) else { throw .lost(errorMessage) }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Sends `sql` without waiting for its result.
    func send(_ sql: String) throws(ListenerInterruption) {
        guard PQsendQuery(handle, sql) == 1 else { throw .lost(errorMessage) }
    }

    /// Reads what the server sent, without blocking; hands over every notification; returns true once every
    /// result of the command in flight (if any) has been read. Throws when the connection is gone or the
    /// command failed.
    func absorbInput(_ deliver: (String, String) -> Void) throws(ListenerInterruption) -> Bool {
        guard PQconsumeInput(handle) == 1 else { throw .lost(errorMessage) }
        while let notification = PQnotifies(handle) {
            let channel = String(cString: notification.pointee.relname)
            let payload = String(cString: notification.pointee.extra)
            PQfreemem(notification)
            deliver(channel, payload)
        }
        while PQisBusy(handle) == 0 {
            guard let result = PQgetResult(handle) else { return true }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY: continue
            default:
                let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? "command failed"
                throw .lost(message.trimmingTrailingWhitespace())
            }
        }
        guard PQstatus(handle) == CONNECTION_OK else { throw .lost(errorMessage) }
        return false
    }

    /// Runs `sql` (no rows expected), waiting for its result until `deadline`, delivering notifications
    /// that arrive meanwhile.
    func run(
        _ sql: String,
        until deadline: ContinuousClock.Instant,
        stop: ListenerStopSignal,
        deliver: (String, String) -> Void
    ) throws(ListenerInterruption) {
        try send(sql)
        while try !absorbInput(deliver) {
            switch waitFor(socket, events: Int16(POLLIN), stop: stop, until: deadline) {
            case .woken: throw .stopped
            case .timedOut: throw .lost("no answer to \(sql) in time")
            case .ready: continue
            }
        }
    }
}
