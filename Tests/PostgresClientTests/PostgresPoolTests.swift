import Foundation
import InvoiceTestSupport
import Synchronization
import Testing

@testable import PostgresClient

/// A pool on the test server with an application name unique to one test, so its backends can be
/// counted in pg_stat_activity while other tests run in parallel.
func makePool(
    maximumConnections: Int, minimumConnections: Int = 1, acquireTimeout: Duration = .seconds(30),
    idleTimeout: Duration = .seconds(300)
) throws -> (PostgresPool, String) {
    let name = "pool-test-\(UUID().uuidString.prefix(8))"
    let configuration = try TestPostgres.serverConfiguration().setting("application_name", name)
    let pool = PostgresPool(
        configuration: configuration, maximumConnections: maximumConnections, minimumConnections: minimumConnections,
        acquireTimeout: acquireTimeout, idleTimeout: idleTimeout, logger: TestPostgres.silentLogger)
    return (pool, name)
}

/// A value that concurrent test tasks update under a lock.
final class Recorder<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    func update(_ change: (inout Value) -> Void) { state.withLock { change(&$0) } }
    var value: Value { state.withLock { $0 } }
}

/// The number of backends with this application name, once it settles at `expected` (backends exit
/// a moment after their client disconnects) or after two seconds.
func backendCount(_ applicationName: String, settlingAt expected: Int) async throws -> Int {
    let admin = try await serverConnection()
    let deadline = ContinuousClock.now + .seconds(2)
    var count = -1
    while ContinuousClock.now < deadline {
        count = try await admin.query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = \(applicationName)")[0].decode(
                "n", as: Int.self)
        if count == expected { break }
        try await Task.sleep(for: .milliseconds(20))
    }
    await admin.close()
    return count
}

@Suite("Connection pool")
struct PostgresPoolTests {
    @Test("50 concurrent tasks over a pool of 4: every result right, never more than 4 backends")
    func concurrentUse() async throws {
        let (pool, name) = try makePool(maximumConnections: 4)
        let results = try await withThrowingTaskGroup(of: (Int, Int, Int).self) { group in
            for task in 0..<50 {
                group.addTask {
                    try await pool.withConnection { connection in
                        let row = try connection.query(
                            """
                            SELECT \(task) * 2 AS doubled,
                                   (SELECT count(*) FROM pg_stat_activity WHERE application_name = \(name)) AS backends,
                                   pg_sleep(0.01)::text AS slept
                            """)[0]
                        return (task, try row.decode("doubled", as: Int.self), try row.decode("backends", as: Int.self))
                    }
                }
            }
            var collected: [(Int, Int, Int)] = []
            for try await result in group { collected.append(result) }
            return collected
        }
        #expect(results.count == 50)
        #expect(results.allSatisfy { $0.1 == $0.0 * 2 })
        let peak = results.map(\.2).max() ?? 0
        #expect(peak <= 4)
        #expect(peak >= 2, "the tasks should have overlapped")
        let statistics = await pool.statistics
        #expect(statistics.open <= 4)
        #expect(statistics.waiting == 0)
        await pool.close()
        #expect(await pool.statistics.open == 0)
    }

    @Test("a pooled connection whose backend was terminated is discarded and replaced")
    func brokenConnectionReplaced() async throws {
        let (pool, name) = try makePool(maximumConnections: 2)
        let firstPID = try await pool.withConnection { connection in
            try connection.query("SELECT pg_backend_pid() AS pid")[0].decode("pid", as: Int32.self)
        }
        let admin = try await serverConnection()
        try await admin.query("SELECT pg_terminate_backend(\(firstPID))")
        // pg_terminate_backend only signals; wait (bounded) until the backend is really gone.
        try await admin.query(
            """
            DO $$ BEGIN
                FOR i IN 1..500 LOOP
                    EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = \(unescaped: String(firstPID)));
                    PERFORM pg_sleep(0.01);
                END LOOP;
            END $$
            """)
        // The backend leaves pg_stat_activity a moment before its process exits and closes the socket.
        try await Task.sleep(for: .milliseconds(300))
        let secondPID = try await pool.withConnection { connection in
            try connection.query("SELECT pg_backend_pid() AS pid")[0].decode("pid", as: Int32.self)
        }
        #expect(secondPID != firstPID)
        #expect(await pool.statistics.open == 1)
        let backends = try await admin.query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = \(name)")[0].decode("n", as: Int.self)
        #expect(backends == 1)
        await pool.close()
        await admin.close()
    }

    @Test("a connection broken during use is not returned to the pool")
    func brokenDuringUse() async throws {
        let (pool, _) = try makePool(maximumConnections: 1)
        await #expect {
            try await pool.withConnection { connection in
                try connection.query("SELECT pg_terminate_backend(pg_backend_pid())")
            }
        } throws: { error in
            (error as? PostgresError)?.code.isConnectionLoss == true
        }
        let one = try await pool.withConnection { connection in
            try connection.query("SELECT 1 AS one")[0].decode("one", as: Int.self)
        }
        #expect(one == 1)
        await pool.close()
    }

    @Test("a transaction left open by the borrower is rolled back before the connection is reused")
    func leftOpenTransaction() async throws {
        let (pool, _) = try makePool(maximumConnections: 1)
        try await pool.withConnection { connection in
            try connection.execute(script: "CREATE TEMP TABLE scratch (id int) ON COMMIT PRESERVE ROWS")
            try connection.execute(script: "BEGIN; INSERT INTO scratch VALUES (1)")
        }
        let (count, inTransaction) = try await pool.withConnection { connection in
            (
                try connection.query("SELECT count(*) AS n FROM scratch")[0].decode("n", as: Int.self),
                try connection.query("SELECT txid_current_if_assigned() IS NULL AS fresh")[0].decode(
                    "fresh", as: Bool.self)
            )
        }
        #expect(count == 0)
        #expect(inTransaction)
        await pool.close()
    }

    @Test("waiters time out when every connection stays busy")
    func acquireTimeout() async throws {
        let (pool, _) = try makePool(maximumConnections: 1, acquireTimeout: .milliseconds(200))
        // The holder keeps the only connection far longer than the bound below, so passing the bound proves
        // the waiter gave up on its own timeout, even on a loaded machine.
        async let holder: Void = pool.withConnection { connection in
            try connection.query("SELECT pg_sleep(8)")
        }
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        await #expect(throws: PostgresPoolError.timedOut(after: .milliseconds(200))) {
            try await pool.withConnection { _ in 1 }
        }
        #expect(ContinuousClock.now - started < .seconds(4))
        try await holder
        #expect(try await pool.withConnection { _ in 2 } == 2)
        await pool.close()
    }

    @Test("waiters are served in FIFO order")
    func fifo() async throws {
        let (pool, _) = try makePool(maximumConnections: 1)
        let order = Recorder<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try await pool.withConnection { connection in try connection.query("SELECT pg_sleep(1)") }
            }
            try await Task.sleep(for: .milliseconds(100))
            for index in 0..<5 {
                group.addTask {
                    try await pool.withConnection { _ in order.update { $0.append(index) } }
                }
                // The next waiter is added only once this one is queued.
                let deadline = ContinuousClock.now + .seconds(1)
                while await pool.statistics.waiting < index + 1, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(2))
                }
            }
            try await group.waitForAll()
        }
        #expect(order.value == [0, 1, 2, 3, 4])
        await pool.close()
    }

    @Test("a cancelled waiter leaves the queue at once and the pool keeps working")
    func cancelledWaiter() async throws {
        let (pool, _) = try makePool(maximumConnections: 1)
        async let holder: Void = pool.withConnection { connection in
            try connection.query("SELECT pg_sleep(8)")
        }
        try await Task.sleep(for: .milliseconds(100))
        let waiter = Task { try await pool.withConnection { _ in 1 } }
        try await Task.sleep(for: .milliseconds(50))
        #expect(await pool.statistics.waiting == 1)
        let started = ContinuousClock.now
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(ContinuousClock.now - started < .seconds(4))
        #expect(await pool.statistics.waiting == 0)
        try await holder
        #expect(try await pool.withConnection { _ in 3 } == 3)
        await pool.close()
    }

    @Test("close() waits for lent connections, then refuses new work")
    func closeWaits() async throws {
        let (pool, name) = try makePool(maximumConnections: 2)
        let finished = Recorder(false)
        async let lent: Void = pool.withConnection { connection in
            try connection.query("SELECT pg_sleep(0.4)")
            finished.update { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(100))
        await pool.close()
        #expect(finished.value)
        try await lent
        await #expect(throws: PostgresPoolError.closed) { try await pool.withConnection { _ in 1 } }
        #expect(try await backendCount(name, settlingAt: 0) == 0)
    }

    @Test("connections idle past the idle timeout are closed down to the minimum")
    func idleTimeout() async throws {
        let (pool, name) = try makePool(maximumConnections: 3, minimumConnections: 1, idleTimeout: .seconds(1))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    // Hold the connection until all three are open, so all three exist at once.
                    try await pool.withConnection { connection in
                        for _ in 0..<500 {
                            let open = try connection.query(
                                "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = \(name)")[0]
                                .decode("n", as: Int.self)
                            if open >= 3 { break }
                            try connection.query("SELECT pg_sleep(0.01)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await pool.statistics.open == 3)
        try await Task.sleep(for: .milliseconds(1200))
        _ = try await pool.withConnection { _ in 0 }
        #expect(await pool.statistics.open == 1)
        #expect(try await backendCount(name, settlingAt: 1) == 1)
        await pool.close()
    }

    @Test("pool transactions retry like connection transactions")
    func poolTransaction() async throws {
        let (pool, _) = try makePool(maximumConnections: 2)
        let attempts = AttemptCounter()
        let value = try await pool.transaction(
            .serializable, retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1))
        ) {
            connection in
            if attempts.next() == 1 {
                try connection.query("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")
            }
            return try connection.query("SELECT current_setting('transaction_isolation') AS l")[0].decode(
                "l", as: String.self)
        }
        #expect(value == "serializable")
        #expect(attempts.value == 2)
        await pool.close()
    }
}
