import Foundation
import Logging
import Synchronization

/// One PostgreSQL connection. Every libpq call runs on the connection's own thread (the actor's custom
/// executor), so blocking C calls never occupy Swift's cooperative pool.
///
/// Closures passed to ``run(_:)`` and ``transaction(_:retry:_:)`` are `isolated` to the connection: they
/// run synchronously on its thread and call ``query(_:)`` and ``execute(_:)`` without `await`.
///
/// ```swift
/// let connection = try await PostgresConnection.connect(configuration, logger: logger)
/// let id = try await connection.transaction(.serializable) { connection in
///     try connection.query("INSERT INTO t (name) VALUES (\(name)) RETURNING id")[0].decode("id", as: Int.self)
/// }
/// ```
public actor PostgresConnection {
    private let thread: ConnectionThread
    private var libpq: LibPQConnection?
    private let logger: Logger
    /// The canceller is read from other threads when a task is cancelled while a statement runs.
    private let canceller = Mutex<QueryCanceller?>(nil)
    /// What this connection was opened with.
    public nonisolated let configuration: PostgresConfiguration

    /// The dedicated thread is this actor's executor.
    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        thread.asUnownedSerialExecutor()
    }

    private init(configuration: PostgresConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.thread = ConnectionThread(name: "pg-connection")
    }

    deinit {
        thread.stop()
    }

    /// Opens a connection (on the connection's own thread; bounded by `connect_timeout`) and applies the
    /// session settings the decoders rely on (UTC, ISO dates, UTF-8).
    /// - Throws: ``PostgresError`` with ``SQLState/unableToConnect`` when the server cannot be reached or
    ///   refuses the login.
    public static func connect(_ configuration: PostgresConfiguration, logger: Logger) async throws
        -> PostgresConnection
    {
        let connection = PostgresConnection(configuration: configuration, logger: logger)
        try await connection.open()
        return connection
    }

    private func open() throws(PostgresError) {
        let opened = try LibPQConnection.connect(configuration, logger: logger)
        libpq = opened
        canceller.withLock { $0 = opened.canceller }
        logger.debug(
            "connected to PostgreSQL",
            metadata: [
                "postgres.backend_pid": "\(opened.backendPID)", "postgres.conninfo": "\(configuration.redacted)",
            ])
    }

    private func live() throws(PostgresError) -> LibPQConnection {
        guard let libpq else {
            throw PostgresError(code: .connectionDoesNotExist, message: "the connection is closed")
        }
        return libpq
    }

    /// Runs one statement and returns its rows (empty for commands without a result).
    /// - Throws: ``PostgresError`` with the server's SQLSTATE, message, detail, hint and position.
    @discardableResult
    public func query(_ query: PostgresQuery) throws(PostgresError) -> [PostgresRow] {
        logger.trace("query", metadata: ["postgres.sql": "\(query.sql)"])
        return try live().execute(query.sql, query.bindings).rows
    }

    /// Runs one statement and returns the number of rows it inserted, updated, deleted or returned.
    @discardableResult
    public func execute(_ query: PostgresQuery) throws(PostgresError) -> Int {
        logger.trace("execute", metadata: ["postgres.sql": "\(query.sql)"])
        return try live().execute(query.sql, query.bindings).affectedRows
    }

    /// Runs several `;`-separated statements without parameters (simple query protocol), stopping at the
    /// first error: for migration files and other trusted scripts. Without an explicit BEGIN the
    /// statements run in one implicit transaction.
    public func execute(script sql: String) throws(PostgresError) {
        logger.trace("script", metadata: ["postgres.sql_length": "\(sql.utf8.count)"])
        try live().execute(script: sql)
    }

    /// The server process serving this connection, or nil when closed.
    public var backendProcessID: Int32? { libpq?.backendPID }

    /// True when the connection is open, the server has not closed it (checked without a round trip),
    /// and no failed transaction is pending.
    public var isHealthy: Bool {
        guard let libpq, libpq.probe() else { return false }
        let state = libpq.transactionState
        return state == .idle || state == .inTransaction
    }

    /// Runs `body` on the connection's thread. If the calling task is cancelled meanwhile, the running
    /// statement is cancelled on the server (it then fails with ``SQLState/queryCanceled``).
    @discardableResult
    public func run<T: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> T) async throws -> T {
        try await withTaskCancellationHandler {
            try body(self)
        } onCancel: {
            cancelRunningStatement()
        }
    }

    /// Asks the server to cancel whatever statement this connection is running; safe from any thread and
    /// returns at once.
    public nonisolated func cancelRunningStatement() {
        guard let canceller = canceller.withLock({ $0 }) else { return }
        // PQcancel opens a connection to the server and has no timeout of its own, so it runs on a
        // short-lived thread of its own: a cancelling task must never block a cooperative-pool thread.
        // Nothing waits for it; the cancelled statement reports the outcome (57014) itself.
        Thread.detachNewThread { canceller.cancelRunningQuery() }
    }

    /// Runs `body` between BEGIN and COMMIT, synchronously on the connection's thread; any error rolls
    /// back. A serialization failure (40001) or deadlock (40P01), from the body or from COMMIT, reruns
    /// the whole body after a capped, jittered backoff, up to `policy.maxAttempts` times in all, so the
    /// body must have no effects outside the database.
    ///
    /// - Throws: the body's error, or ``PostgresError``; ``SQLState/activeSQLTransaction`` when called
    ///   inside an open transaction.
    @discardableResult
    public func transaction<T: Sendable>(
        _ isolation: IsolationLevel = .readCommitted, retry policy: RetryPolicy = .default,
        _ body: @Sendable (isolated PostgresConnection) throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await withTaskCancellationHandler {
                    try transactionAttempt(isolation, body)
                } onCancel: {
                    cancelRunningStatement()
                }
            } catch let error as PostgresError
                where error.code.isTransactionRetryable && attempt < policy.maxAttempts && !Task.isCancelled
            {
                let delay = policy.delay(afterAttempt: attempt)
                logger.debug(
                    "retrying transaction",
                    metadata: [
                        "postgres.sqlstate": "\(error.code)", "postgres.attempt": "\(attempt)",
                        "postgres.retry_delay": "\(delay)",
                    ])
                attempt += 1
                try await Task.sleep(for: delay)
            }
        }
    }

    private func transactionAttempt<T>(
        _ isolation: IsolationLevel, _ body: @Sendable (isolated PostgresConnection) throws -> T
    )
        throws -> T
    {
        let libpq = try live()
        guard libpq.transactionState == .idle else {
            throw PostgresError(
                code: .activeSQLTransaction,
                message: "transaction() was called while a transaction is already open on this connection")
        }
        try libpq.execute(script: "BEGIN ISOLATION LEVEL \(isolation.sql)")
        let value: T
        do {
            value = try body(self)
        } catch {
            rollBack()
            throw error
        }
        if libpq.transactionState == .failedTransaction {
            // The body swallowed an error; COMMIT would silently roll back, so say so instead.
            rollBack()
            throw PostgresError(
                code: .inFailedSQLTransaction,
                message:
                    "a statement in the transaction failed and its error was caught; the transaction was rolled back")
        }
        do {
            try libpq.execute(script: "COMMIT")
        } catch {
            rollBack()
            throw error
        }
        return value
    }

    /// Best effort: if the connection is broken there is nothing to roll back.
    private func rollBack() {
        guard let libpq, libpq.transactionState != .idle else { return }
        do {
            try libpq.execute(script: "ROLLBACK")
        } catch {
            logger.debug("rollback failed", metadata: ["postgres.sqlstate": "\(error.code)"])
        }
    }

    /// Closes the connection (`PQfinish`). Later calls fail with ``SQLState/connectionDoesNotExist``.
    public func close() {
        canceller.withLock { $0 = nil }
        libpq = nil
    }

    /// For tests: whether the caller runs on this connection's dedicated thread.
    nonisolated var isOnConnectionThread: Bool { thread.isCurrent }

    /// For tests: the executor, to check that its thread ends with the connection.
    nonisolated var executorForTesting: AnyObject { thread }

    // MARK: Pool support

    /// Lending check: open, no unread FATAL from the server, idle; and, if unused for a while, a
    /// `SELECT 1` round trip to catch dead peers that a probe cannot see.
    func isReusable(ping: Bool) -> Bool {
        guard let libpq, libpq.probe(), libpq.transactionState == .idle else { return false }
        guard ping else { return true }
        do {
            try libpq.execute(script: "SELECT 1")
            return true
        } catch {
            return false
        }
    }

    /// Returning check: rolls back a transaction the borrower left open; false if the connection is
    /// unusable and must be discarded.
    func resetAfterUse() -> Bool {
        guard let libpq, libpq.isConnected else { return false }
        switch libpq.transactionState {
        case .idle:
            return true
        case .inTransaction, .failedTransaction:
            rollBack()
            return libpq.isConnected && libpq.transactionState == .idle
        case .active, .unknown:
            return false
        }
    }
}

/// The isolation level a transaction runs at.
public enum IsolationLevel: Sendable, Hashable, CaseIterable {
    /// PostgreSQL's default: each statement sees data committed before it began.
    case readCommitted
    /// One snapshot for the whole transaction; concurrent updates of the same rows fail with 40001.
    case repeatableRead
    /// As if transactions ran one at a time; conflicts fail with 40001 and are retried.
    case serializable

    var sql: String {
        switch self {
        case .readCommitted: "READ COMMITTED"
        case .repeatableRead: "REPEATABLE READ"
        case .serializable: "SERIALIZABLE"
        }
    }
}

/// How often and how patiently a transaction is retried after a serialization failure or deadlock.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, including the first; 1 disables retrying.
    public var maxAttempts: Int
    /// The backoff before the second attempt; it doubles for each further attempt.
    public var initialDelay: Duration
    /// The cap on the backoff.
    public var maximumDelay: Duration

    /// A policy from its parts.
    public init(
        maxAttempts: Int, initialDelay: Duration = .milliseconds(5), maximumDelay: Duration = .milliseconds(500)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// Five attempts, 5 ms doubling to at most 500 ms.
    public static let `default` = RetryPolicy(maxAttempts: 5)

    /// No retry.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The exponential backoff capped at ``maximumDelay``, of which a random half is kept ("equal
    /// jitter"), so that conflicting transactions do not collide again in lockstep.
    func delay(afterAttempt attempt: Int) -> Duration {
        let exponent = min(attempt - 1, 20)
        let capped = min(initialDelay * (1 << exponent), maximumDelay)
        let half = capped / 2
        return half + half * Double.random(in: 0...1)
    }
}
