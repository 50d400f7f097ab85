import Logging
import Synchronization

/// A small pool of ``PostgresConnection``s.
///
/// Connections are opened lazily up to ``maximumConnections``. Before a connection is lent it is checked
/// without a round trip (open, no unread FATAL from the server, no transaction left open); one idle for
/// longer than the ping interval also answers a `SELECT 1`. Broken connections are closed and replaced.
/// When all are busy, callers wait in FIFO order, each for at most the acquire timeout; a cancelled
/// waiter leaves the queue at once. ``close()`` waits for lent connections to come back.
public actor PostgresPool {
    /// Where the connections go.
    public nonisolated let configuration: PostgresConfiguration
    /// The most connections open at once (lent, idle or being opened).
    public nonisolated let maximumConnections: Int
    /// How long a caller waits for a free connection before ``PostgresPoolError/timedOut``.
    public nonisolated let acquireTimeout: Duration
    /// A connection idle for longer than this is pinged with `SELECT 1` before it is lent.
    public nonisolated let pingIdleAfter: Duration
    /// Idle connections beyond this many are closed once idle for ``idleTimeout``.
    public nonisolated let minimumConnections: Int
    /// How long a connection beyond ``minimumConnections`` may stay idle. Checked whenever the pool is
    /// used (there is no timer), so an unused pool keeps its connections until the next use or close.
    public nonisolated let idleTimeout: Duration
    private let logger: Logger

    private struct IdleConnection {
        var connection: PostgresConnection
        var since: ContinuousClock.Instant
    }

    /// Most recently returned last, so a busy pool reuses warm connections and cold ones stay idle.
    private var idle: [IdleConnection] = []
    /// Connections open, lent, or being opened; never more than `maximumConnections`.
    private var openCount = 0
    private var waiters: [PoolWaiter] = []
    private var isClosed = false
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []

    /// Creates a pool; no connection is opened until the first use.
    public init(
        configuration: PostgresConfiguration, maximumConnections: Int = 4, minimumConnections: Int = 1,
        acquireTimeout: Duration = .seconds(30), pingIdleAfter: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(300), logger: Logger
    ) {
        precondition(maximumConnections > 0, "a pool needs at least one connection")
        precondition(
            (0...maximumConnections).contains(minimumConnections), "minimumConnections must be 0...maximumConnections")
        self.minimumConnections = minimumConnections
        self.idleTimeout = idleTimeout
        self.configuration = configuration
        self.maximumConnections = maximumConnections
        self.acquireTimeout = acquireTimeout
        self.pingIdleAfter = pingIdleAfter
        self.logger = logger
    }

    /// Borrows a connection for `body`, which runs synchronously on the connection's thread. The
    /// connection goes back to the pool afterwards; a transaction left open is rolled back, and a broken
    /// connection is discarded.
    /// - Throws: ``PostgresPoolError`` when no connection became free in time or the pool is closed;
    ///   ``PostgresError`` from connecting or from `body`; `CancellationError` when cancelled while waiting.
    @discardableResult
    public func withConnection<T: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> T) async throws
        -> T
    {
        let connection = try await lease()
        do {
            let value = try await connection.run(body)
            await release(connection)
            return value
        } catch {
            await release(connection)
            throw error
        }
    }

    /// Borrows a connection and runs `body` in a transaction on it, with the retry rules of
    /// ``PostgresConnection/transaction(_:retry:_:)``.
    @discardableResult
    public func transaction<T: Sendable>(
        _ isolation: IsolationLevel = .readCommitted, retry policy: RetryPolicy = .default,
        _ body: @Sendable (isolated PostgresConnection) throws -> T
    ) async throws -> T {
        let connection = try await lease()
        do {
            let value = try await connection.transaction(isolation, retry: policy, body)
            await release(connection)
            return value
        } catch {
            await release(connection)
            throw error
        }
    }

    /// Counts for metrics and tests.
    public var statistics: PostgresPoolStatistics {
        PostgresPoolStatistics(
            open: openCount, idle: idle.count, waiting: waiters.count { !$0.isFinished })
    }

    /// Stops lending: fails every waiter with ``PostgresPoolError/closed``, closes idle connections, and
    /// returns once every lent connection has come back and been closed.
    public func close() async {
        guard !isClosed else {
            await waitUntilAllClosed()
            return
        }
        isClosed = true
        for waiter in waiters { waiter.fail(PostgresPoolError.closed) }
        waiters.removeAll()
        let idleNow = idle
        idle.removeAll()
        for entry in idleNow {
            await entry.connection.close()
            connectionGone()
        }
        await waitUntilAllClosed()
        logger.debug("connection pool closed")
    }

    private func waitUntilAllClosed() async {
        while openCount > 0 {
            await withCheckedContinuation { closeWaiters.append($0) }
        }
    }

    // MARK: Lending

    private func lease() async throws -> PostgresConnection {
        while true {
            guard !isClosed else { throw PostgresPoolError.closed }
            try Task.checkCancellation()
            if let entry = idle.popLast() {
                let ping = entry.since.duration(to: .now) > pingIdleAfter
                if await entry.connection.isReusable(ping: ping) { return entry.connection }
                logger.info(
                    "discarding a broken pooled connection", metadata: ["postgres.pool_open": "\(openCount - 1)"])
                await entry.connection.close()
                connectionGone()
                continue
            }
            if openCount < maximumConnections {
                openCount += 1
                return try await openCountedConnection()
            }
            switch try await waitForTurn() {
            case .connection(let connection):
                return connection
            case .permitToOpen:
                return try await openCountedConnection()
            }
        }
    }

    /// Opens a connection whose slot is already counted in `openCount`; gives the slot back on failure.
    private func openCountedConnection() async throws -> PostgresConnection {
        do {
            guard !isClosed else { throw PostgresPoolError.closed }
            return try await PostgresConnection.connect(configuration, logger: logger)
        } catch {
            connectionGone()
            throw error
        }
    }

    private func release(_ connection: PostgresConnection) async {
        let reusable = await connection.resetAfterUse()
        guard reusable, !isClosed else {
            if !reusable {
                logger.info("discarding a broken pooled connection after use")
            }
            await connection.close()
            connectionGone()
            return
        }
        while let waiter = nextWaiter() {
            if waiter.resume(.connection(connection)) { return }
        }
        idle.append(IdleConnection(connection: connection, since: .now))
        await closeExpiredIdleConnections()
    }

    /// Closes the connections idle for longer than `idleTimeout`, oldest first, down to
    /// `minimumConnections`.
    private func closeExpiredIdleConnections() async {
        while openCount > minimumConnections, let oldest = idle.first,
            oldest.since.duration(to: .now) > idleTimeout
        {
            idle.removeFirst()
            logger.debug("closing an idle pooled connection", metadata: ["postgres.pool_open": "\(openCount - 1)"])
            await oldest.connection.close()
            connectionGone()
        }
    }

    /// A connection was closed: its slot goes to the first waiter as a permit to open a new one, or is
    /// freed.
    private func connectionGone() {
        if !isClosed {
            while let waiter = nextWaiter() {
                if waiter.resume(.permitToOpen) { return }
            }
        }
        openCount -= 1
        if openCount == 0 {
            let waiting = closeWaiters
            closeWaiters.removeAll()
            for continuation in waiting { continuation.resume() }
        }
    }

    private func nextWaiter() -> PoolWaiter? {
        while !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            if !waiter.isFinished { return waiter }
        }
        return nil
    }

    private func waitForTurn() async throws -> PoolWaiter.Handoff {
        let waiter = PoolWaiter()
        let deadline = ContinuousClock.now + acquireTimeout
        let timeout = acquireTimeout
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // A cancelled sleep (the waiter was served) ends the timer without failing anyone.
                guard (try? await Task.sleep(until: deadline)) != nil else { return }
                waiter.fail(PostgresPoolError.timedOut(after: timeout))
            }
            defer { group.cancelAll() }
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    waiter.install(continuation)
                    waiters.append(waiter)
                }
            } onCancel: {
                waiter.fail(CancellationError())
            }
        }
    }
}

/// Counts describing a pool at one moment.
public struct PostgresPoolStatistics: Sendable, Hashable {
    /// Connections open, lent or being opened.
    public var open: Int
    /// Connections open and not lent.
    public var idle: Int
    /// Callers waiting for a connection.
    public var waiting: Int
}

/// Why the pool could not lend a connection.
public enum PostgresPoolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Every connection stayed busy for the whole acquire timeout.
    case timedOut(after: Duration)
    /// The pool was closed.
    case closed

    /// A sentence for logs.
    public var description: String {
        switch self {
        case .timedOut(let duration): "no database connection became free within \(duration)"
        case .closed: "the database connection pool is closed"
        }
    }
}

/// One caller waiting for a connection. Whoever comes first (a handoff, the timeout, cancellation) wins;
/// the others find it finished.
final class PoolWaiter: Sendable {
    enum Handoff: Sendable {
        /// A connection, now lent to this waiter.
        case connection(PostgresConnection)
        /// A slot in the pool: the waiter opens a new connection itself.
        case permitToOpen
    }

    private enum State {
        case waiting(CheckedContinuation<Handoff, any Error>?)
        case failedBeforeWaiting(any Error)
        case finished
    }

    private let state = Mutex<State>(.waiting(nil))

    var isFinished: Bool {
        state.withLock {
            if case .waiting = $0 { return false }
            return true
        }
    }

    func install(_ continuation: CheckedContinuation<Handoff, any Error>) {
        let earlyError: (any Error)? = state.withLock { state in
            if case .failedBeforeWaiting(let error) = state {
                state = .finished
                return error
            }
            state = .waiting(continuation)
            return nil
        }
        if let earlyError { continuation.resume(throwing: earlyError) }
    }

    /// Hands over a connection or a permit; false if the waiter already gave up.
    func resume(_ handoff: Handoff) -> Bool {
        let continuation: CheckedContinuation<Handoff, any Error>? = state.withLock { state in
            guard case .waiting(let continuation?) = state else { return nil }
            state = .finished
            return continuation
        }
        continuation?.resume(returning: handoff)
        return continuation != nil
    }

    func fail(_ error: any Error) {
        let continuation: CheckedContinuation<Handoff, any Error>? = state.withLock { state in
            switch state {
            case .waiting(let continuation?):
                state = .finished
                return continuation
            case .waiting(nil):
                state = .failedBeforeWaiting(error)
                return nil
            case .failedBeforeWaiting, .finished:
                return nil
            }
        }
        continuation?.resume(throwing: error)
    }
}
