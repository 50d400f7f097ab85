import InvoiceTestSupport
import Synchronization
import Testing

@testable import PostgresClient

/// A counter that `@Sendable` transaction bodies can bump.
final class AttemptCounter: Sendable {
    private let count = Mutex(0)
    /// Adds one and returns the new count.
    func next() -> Int {
        count.withLock {
            $0 += 1; return $0
        }
    }
    var value: Int { count.withLock { $0 } }
}

@Suite("Transactions")
struct PostgresTransactionTests {
    @Test("commit on success, rollback on error, and the error is rethrown")
    func commitAndRollback() async throws {
        try await withFreshDatabase { _, connection in
            try await connection.execute(script: "CREATE TABLE t (id int PRIMARY KEY)")
            let inserted = try await connection.transaction { connection in
                try connection.execute("INSERT INTO t VALUES (\(1))")
            }
            #expect(inserted == 1)
            struct Refusal: Error {}
            await #expect(throws: Refusal.self) {
                try await connection.transaction { connection in
                    try connection.execute("INSERT INTO t VALUES (\(2))")
                    throw Refusal()
                }
            }
            await #expect(throws: PostgresError.self) {
                try await connection.transaction { connection in
                    try connection.execute("INSERT INTO t VALUES (\(3))")
                    try connection.execute("INSERT INTO t VALUES (\(1))")
                }
            }
            let ids = try await connection.query("SELECT id FROM t ORDER BY id").map {
                try $0.decode("id", as: Int.self)
            }
            #expect(ids == [1])
            #expect(await connection.isHealthy)
        }
    }

    @Test("a swallowed statement error does not commit silently")
    func swallowedError() async throws {
        try await withFreshDatabase { _, connection in
            try await connection.execute(script: "CREATE TABLE t (id int PRIMARY KEY)")
            let error = try await #require(throws: PostgresError.self) {
                try await connection.transaction { connection in
                    try connection.execute("INSERT INTO t VALUES (\(1))")
                    _ = try? connection.execute("INSERT INTO t VALUES (\(1))")
                }
            }
            #expect(error.code == .inFailedSQLTransaction)
            #expect(try await connection.query("SELECT count(*) AS n FROM t")[0].decode("n", as: Int.self) == 0)
        }
    }

    @Test("isolation levels are applied", arguments: IsolationLevel.allCases)
    func isolation(level: IsolationLevel) async throws {
        let connection = try await serverConnection()
        let shown = try await connection.transaction(level) { connection in
            try connection.query("SELECT current_setting('transaction_isolation') AS l")[0].decode("l", as: String.self)
        }
        #expect(shown == level.sql.lowercased())
        await connection.close()
    }

    @Test("transaction() inside an open transaction is refused with 25001")
    func nested() async throws {
        let connection = try await serverConnection()
        try await connection.execute(script: "BEGIN")
        let error = try await #require(throws: PostgresError.self) {
            try await connection.transaction { _ in 1 }
        }
        #expect(error.code == .activeSQLTransaction)
        try await connection.execute(script: "ROLLBACK")
        await connection.close()
    }

    @Test(
        "a provoked serialization failure reruns the body once and the final result is right",
        arguments: [IsolationLevel.repeatableRead, .serializable])
    func serializationRetry(level: IsolationLevel) async throws {
        try await withFreshDatabase { database, connection in
            try await connection.execute(
                script: "CREATE TABLE account (k int PRIMARY KEY, v int NOT NULL); INSERT INTO account VALUES (1, 0)")
            let attempts = AttemptCounter()
            let configuration = database.configuration
            let final = try await connection.transaction(level) { connection in
                let attempt = attempts.next()
                let v = try connection.query("SELECT v FROM account WHERE k = 1")[0].decode("v", as: Int.self)
                if attempt == 1 {
                    // A second session commits a change to the row after this transaction's snapshot.
                    let other = try LibPQConnection.connect(configuration)
                    try other.execute(script: "UPDATE account SET v = v + 1 WHERE k = 1")
                }
                try connection.execute("UPDATE account SET v = \(v + 10) WHERE k = 1")
                return v + 10
            }
            #expect(attempts.value == 2)
            #expect(final == 11)
            #expect(try await connection.query("SELECT v FROM account")[0].decode("v", as: Int.self) == 11)
        }
    }

    @Test("write skew under SERIALIZABLE fails at statement or commit and is retried")
    func writeSkewRetry() async throws {
        try await withFreshDatabase { database, connection in
            try await connection.execute(
                script:
                    "CREATE TABLE duty (doctor text PRIMARY KEY, on_call bool NOT NULL); INSERT INTO duty VALUES ('a', true), ('b', true)"
            )
            let attempts = AttemptCounter()
            let configuration = database.configuration
            try await connection.transaction(.serializable) { connection in
                let attempt = attempts.next()
                let onCall = try connection.query("SELECT count(*) AS n FROM duty WHERE on_call")[0].decode(
                    "n", as: Int.self)
                if attempt == 1 {
                    let other = try LibPQConnection.connect(configuration)
                    try other.execute(
                        script:
                            "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT count(*) FROM duty WHERE on_call; UPDATE duty SET on_call = false WHERE doctor = 'b'; COMMIT"
                    )
                }
                if onCall >= 2 {
                    try connection.execute("UPDATE duty SET on_call = false WHERE doctor = \("a")")
                }
            }
            #expect(attempts.value == 2)
            let remaining = try await connection.query("SELECT doctor FROM duty WHERE on_call").map {
                try $0.decode("doctor", as: String.self)
            }
            #expect(remaining == ["a"])
        }
    }

    @Test("a provoked deadlock makes this transaction the victim; it is retried and both writes land")
    func deadlockRetry() async throws {
        try await withFreshDatabase { database, connection in
            try await connection.execute(
                script: "CREATE TABLE t (k int PRIMARY KEY, v int NOT NULL); INSERT INTO t VALUES (1, 0), (2, 0)")
            let other = try await database.connect()
            let otherPID = try #require(await other.backendProcessID)
            // The other session holds row 2 and will wait for row 1; its long deadlock_timeout makes this
            // connection (100 ms) the one that detects the cycle and is aborted.
            try await other.execute(script: "SET deadlock_timeout = '10s'; BEGIN; UPDATE t SET v = v + 1 WHERE k = 2")
            try await connection.execute(script: "SET deadlock_timeout = '100ms'")
            let attempts = AttemptCounter()
            let holdsRowOne = AttemptCounter()
            async let otherDone: Void = {
                while holdsRowOne.value == 0 { try await Task.sleep(for: .milliseconds(5)) }
                try await other.execute(script: "UPDATE t SET v = v + 1 WHERE k = 1; COMMIT")
            }()
            try await connection.transaction { connection in
                let attempt = attempts.next()
                try connection.execute("UPDATE t SET v = v + 10 WHERE k = \(1)")
                if attempt == 1 {
                    _ = holdsRowOne.next()
                    // Wait until the other session is blocked on row 1, so the cycle exists when we wait.
                    while try connection.query(
                        "SELECT count(*) AS n FROM pg_locks WHERE pid = \(otherPID) AND NOT granted")[0].decode(
                            "n", as: Int.self) == 0
                    {
                        try connection.query("SELECT pg_sleep(0.01)")
                    }
                }
                try connection.execute("UPDATE t SET v = v + 10 WHERE k = \(2)")
            }
            try await otherDone
            #expect(attempts.value == 2)
            let values = try await connection.query("SELECT v FROM t ORDER BY k").map {
                try $0.decode("v", as: Int.self)
            }
            #expect(values == [11, 11])
            await other.close()
        }
    }

    @Test("retrying stops after maxAttempts and rethrows the serialization failure")
    func retryLimit() async throws {
        let connection = try await serverConnection()
        let attempts = AttemptCounter()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.transaction(retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1))) {
                connection in
                _ = attempts.next()
                try connection.query(
                    "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$")
            }
        }
        #expect(error.code == .serializationFailure)
        #expect(attempts.value == 3)
        await connection.close()
    }

    @Test("backoff grows, stays under the cap, and is jittered")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 10, initialDelay: .milliseconds(10), maximumDelay: .milliseconds(100))
        for attempt in 1...9 {
            let delay = policy.delay(afterAttempt: attempt)
            let ceiling = min(Duration.milliseconds(10) * (1 << (attempt - 1)), .milliseconds(100))
            #expect(delay <= ceiling)
            #expect(delay >= ceiling / 2)
        }
        let samples = Set((0..<20).map { _ in policy.delay(afterAttempt: 5) })
        #expect(samples.count > 1)
    }
}
