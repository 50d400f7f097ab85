import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A serial executor backed by one dedicated OS thread. A ``PostgresConnection`` runs every job on it,
/// so libpq's blocking calls never occupy a thread of Swift's cooperative pool (only two threads on a
/// two-core machine).
final class ConnectionThread: SerialExecutor, @unchecked Sendable {
    // @unchecked Sendable: `jobs`, `isStopping` and `threadID` are only read or written while holding
    // `condition`'s lock; `name` is immutable.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var isStopping = false
    private var threadID: pthread_t? = nil
    private let name: String

    /// Starts the thread; it sleeps until a job arrives.
    init(name: String) {
        self.name = name
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
        condition.lock()
        while threadID == nil { condition.wait() }
        condition.unlock()
    }

    /// Lets the thread finish the jobs already queued and exit. Called when the owning connection goes
    /// away; the thread holds the only other reference, so the executor is freed after that.
    func stop() {
        condition.lock()
        isStopping = true
        condition.signal()
        condition.unlock()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// True when called on this executor's thread.
    var isCurrent: Bool {
        condition.lock()
        defer { condition.unlock() }
        guard let threadID else { return false }
        return pthread_equal(threadID, pthread_self()) != 0
    }

    func checkIsolated() {
        precondition(isCurrent, "expected to run on the connection thread \(name)")
    }

    private func run() {
        // Set from inside the thread, so Foundation also names the OS thread (top, gdb, /proc).
        Thread.current.name = name
        condition.lock()
        threadID = pthread_self()
        condition.broadcast()
        while true {
            while jobs.isEmpty && !isStopping { condition.wait() }
            if jobs.isEmpty && isStopping { break }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
            condition.lock()
        }
        condition.unlock()
    }
}
