import Synchronization

/// A coalescing wake-up for a router's loops (or the mailer): any number of signals while every waiter is
/// busy become one wake-up, kept for the next wait. NOTIFY is only a hint, so collapsing hints loses
/// nothing; the loops sweep on a timer too.
///
/// Several loops may wait on one wake-up; a signal wakes one of them, the one that has waited longest.
/// A woken loop drains the queue until a claim comes back empty, so one loop per hint is enough, and the
/// others keep waiting instead of each making an empty claim per submission (the router's loops were
/// all woken by every NOTIFY until stop 12).
public final class RouterWake: Sendable {
    private struct State {
        var pending = false
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Creates a wake-up with nothing pending.
    public init() {}

    /// Wakes the longest-waiting loop now, or, if none waits, the next one to wait.
    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        waiter?.resume()
    }

    /// Returns at a signal, after `timeout`, or when the task is cancelled.
    func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForSignal() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal() async {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Cancellation may have happened before the continuation was stored (the handler then
                // found nothing to resume): Task.isCancelled is already true in that case.
                let now = state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    if Task.isCancelled { return true }
                    state.waiters.append((id, continuation))
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            // A waiter a signal already took was resumed by it; only one still queued is resumed here.
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume()
        }
    }
}
