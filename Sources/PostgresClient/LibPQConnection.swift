internal import CLibPQ
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The single owner of one `PGconn*`. Every call blocks, so it is used only from one thread at a time:
/// the dedicated thread of a ``PostgresConnection`` or the listener's thread. `PQfinish` runs in `deinit`.
final class LibPQConnection {
    /// The `PGconn*`, for code in this module that needs libpq calls not wrapped here (the listener).
    let handle: OpaquePointer
    /// A separate cancel object, so another thread can ask the server to cancel the running statement.
    let canceller: QueryCanceller?
    /// Where server notices and warnings go; libpq would otherwise print them to stderr. Retained here
    /// because libpq holds only an unretained pointer to it.
    private let notices: NoticeLog

    private init(handle: OpaquePointer, logger: Logger?) {
        self.handle = handle
        self.canceller = PQgetCancel(handle).map(QueryCanceller.init)
        self.notices = NoticeLog(logger: logger)
        PQsetNoticeReceiver(handle, noticeReceiver, Unmanaged.passUnretained(notices).toOpaque())
    }

    deinit {
        PQfinish(handle)
    }

    /// Connects (blocking, bounded by the configuration's `connect_timeout`) and applies the session
    /// settings that make the text format unambiguous: UTC, ISO dates, ISO 8601 intervals, and
    /// round-trippable floats.
    ///
    /// Server notices (`NOTICE: table "x" does not exist, skipping`) go to `logger` at debug level and
    /// warnings at warning level; without a logger they are dropped.
    static func connect(_ configuration: PostgresConfiguration, logger: Logger? = nil) throws(PostgresError)
        -> LibPQConnection
    {
        guard let handle = PQconnectdb(configuration.conninfo) else {
            throw PostgresError(code: .unableToConnect, message: "libpq could not allocate a connection")
        }
        let connection = LibPQConnection(handle: handle, logger: logger)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(
                code: .unableToConnect,
                message: "could not connect to PostgreSQL (\(configuration.redacted)): \(connection.lastErrorMessage)")
        }
        try connection.execute(script: sessionSetup)
        return connection
    }

    /// Sent once per connection; the decoders in this module rely on these settings.
    static let sessionSetup =
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3"

    /// libpq's last error text for this connection, one line.
    var lastErrorMessage: String {
        guard let message = PQerrorMessage(handle) else { return "unknown libpq error" }
        return String(cString: message).trimmingTrailingWhitespace()
    }

    /// `PQstatus` is `CONNECTION_OK`. Only I/O reveals a dead server; see ``probe()``.
    var isConnected: Bool { PQstatus(handle) == CONNECTION_OK }

    /// The transaction state as libpq last saw it.
    var transactionState: TransactionState {
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: .idle
        case PQTRANS_INTRANS: .inTransaction
        case PQTRANS_INERROR: .failedTransaction
        case PQTRANS_ACTIVE: .active
        default: .unknown
        }
    }

    /// The server process id serving this connection (for `pg_terminate_backend` and logs).
    var backendPID: Int32 { PQbackendPID(handle) }

    /// The socket, for `poll()` (the listener).
    var socket: Int32 { PQsocket(handle) }

    /// Reads whatever the server has already sent without blocking. A terminated backend sends a FATAL
    /// message and closes the socket, so afterwards `isConnected` is false: a free health check with no
    /// round trip.
    @discardableResult
    func probe() -> Bool {
        // The FATAL message and the end of the stream may arrive in separate reads: keep reading while
        // the socket has data, so that the end of the stream is seen and the status turns bad.
        for _ in 0..<8 {
            guard PQconsumeInput(handle) == 1 else { return false }
            _ = PQisBusy(handle)
            guard isConnected else { return false }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { return true }
        }
        return isConnected
    }

    /// Runs one or more statements without parameters (simple query protocol). Stops at the first error.
    func execute(script sql: String) throws(PostgresError) {
        try Self.checkNoNUL(sql, what: "the SQL text", query: sql)
        guard PQsendQuery(handle, sql) == 1 else { throw connectionError(query: sql) }
        var firstError: PostgresError? = nil
        // Drain every result so the connection is ready for the next command even after an error.
        while let result = PQgetResult(handle) {
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                continue
            case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
                if firstError == nil {
                    firstError = PostgresError(
                        code: .featureNotSupported, message: "COPY is not supported by execute(script:)", query: sql)
                }
                // Ending the copy lets the server finish the statement with an error.
                _ = PQputCopyEnd(handle, "COPY is not supported")
            default:
                if firstError == nil { firstError = error(from: result, query: sql) }
            }
        }
        if let firstError { throw firstError }
    }

    /// Runs one statement with parameters in text format (extended query protocol) and copies the result
    /// out of libpq into Swift values.
    func execute(_ sql: String, _ bindings: [PostgresBinding]) throws(PostgresError) -> QueryResult {
        try Self.checkNoNUL(sql, what: "the SQL text", query: sql)
        guard bindings.count <= 65535 else {
            throw PostgresError(
                code: .protocolViolation, message: "at most 65535 parameters can be bound, not \(bindings.count)",
                query: sql)
        }
        for (index, binding) in bindings.enumerated() {
            if let text = binding.text {
                try Self.checkNoNUL(text, what: "parameter $\(index + 1)", query: sql)
            }
        }
        let types = bindings.map { Oid($0.type.rawValue) }
        let values: [UnsafeMutablePointer<CChar>?] = bindings.map { binding in binding.text.flatMap { strdup($0) } }
        defer { values.forEach { free($0) } }
        let result: OpaquePointer? = values.withUnsafeBufferPointer { valuePointers in
            types.withUnsafeBufferPointer { typePointers in
                valuePointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { constValues in
                    PQexecParams(
                        handle, sql, Int32(bindings.count), typePointers.baseAddress, constValues.baseAddress, nil,
                        nil, 0)
                }
            }
        }
        guard let result else { throw connectionError(query: sql) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return QueryResult(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            _ = PQputCopyEnd(handle, "COPY is not supported")
            while let extra = PQgetResult(handle) { PQclear(extra) }
            throw PostgresError(code: .featureNotSupported, message: "COPY is not supported by query()", query: sql)
        default:
            throw error(from: result, query: sql)
        }
    }

    /// libpq cannot pass a NUL byte (C strings) and PostgreSQL text cannot store one; refusing beats
    /// silently truncating the value.
    private static func checkNoNUL(_ text: String, what: String, query: String) throws(PostgresError) {
        var text = text
        // memchr, not a Swift loop: parameters can be megabytes long.
        let hasNUL = text.withUTF8 { utf8 in
            utf8.baseAddress.map { memchr($0, 0, utf8.count) != nil } ?? false
        }
        if hasNUL {
            throw PostgresError(
                code: .characterNotInRepertoire,
                message: "\(what) contains a NUL character, which PostgreSQL text cannot hold", query: query)
        }
    }

    /// A client-side failure to send or receive: the connection is broken (class 08) or, rarely, libpq
    /// ran out of memory.
    private func connectionError(query: String?) -> PostgresError {
        PostgresError(
            code: isConnected ? .connectionException : .connectionFailure, message: lastErrorMessage,
            query: query)
    }

    /// Builds the error from the diagnostic fields of a failed result.
    private func error(from result: OpaquePointer, query: String?) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let message =
            field("M") ?? PQresultErrorMessage(result).map { String(cString: $0).trimmingTrailingWhitespace() }
            ?? lastErrorMessage
        let code: SQLState
        if let state = field("C") {
            code = SQLState(rawValue: state)
        } else {
            // Errors generated inside libpq carry no SQLSTATE; most mean the connection broke.
            code = isConnected ? .connectionException : .connectionFailure
        }
        return PostgresError(
            code: code, message: message, detail: field("D"), hint: field("H"),
            position: field("P").flatMap { Int($0) },
            constraint: field("n"), table: field("t"), column: field("c"), schema: field("s"), context: field("W"),
            severity: field("V"), query: query)
    }
}

/// Receives the notices of one connection. Used only on the connection's thread, inside libpq calls.
final class NoticeLog {
    let logger: Logger?
    init(logger: Logger?) { self.logger = logger }

    func receive(_ result: OpaquePointer) {
        guard let logger else { return }
        func field(_ code: Character) -> String {
            PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) } ?? ""
        }
        let severity = field("V")
        let metadata: Logger.Metadata = [
            "postgres.sqlstate": "\(field("C"))", "postgres.severity": "\(severity)",
            "postgres.message": "\(field("M"))",
        ]
        if severity == "WARNING" {
            logger.warning("PostgreSQL warning", metadata: metadata)
        } else {
            logger.debug("PostgreSQL notice", metadata: metadata)
        }
    }
}

/// A C function (no captures) that forwards to the connection's ``NoticeLog``.
private func noticeReceiver(_ context: UnsafeMutableRawPointer?, _ result: OpaquePointer?) {
    guard let context, let result else { return }
    Unmanaged<NoticeLog>.fromOpaque(context).takeUnretainedValue().receive(result)
}

/// What libpq reports about the transaction on a connection.
enum TransactionState: Sendable {
    case idle, inTransaction, failedTransaction, active, unknown
}

/// Owns a `PGcancel*`. `PQcancel` is documented thread-safe, so any thread may call ``cancel()`` while
/// the connection's own thread is blocked in a query.
final class QueryCanceller: Sendable {
    // A pointer is not Sendable; this one is only handed to PQcancel (thread-safe per the libpq docs)
    // and PQfreeCancel (in deinit, when no other reference exists).
    nonisolated(unsafe) private let cancel: OpaquePointer

    init(_ cancel: OpaquePointer) { self.cancel = cancel }

    deinit { PQfreeCancel(cancel) }

    /// Asks the server to cancel the running statement (it then fails with 57014). Opens a short-lived
    /// connection to the server, so it blocks briefly; returns false if the request could not be sent.
    @discardableResult
    func cancelRunningQuery() -> Bool {
        var buffer = [CChar](repeating: 0, count: 256)
        return PQcancel(cancel, &buffer, Int32(buffer.count)) == 1
    }
}
