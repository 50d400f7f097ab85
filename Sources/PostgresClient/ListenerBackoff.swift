/// Capped exponential backoff with jitter, for reconnecting to a database that is down.
///
/// The n-th consecutive failure waits `min(maximum, initial × multiplierⁿ⁻¹)`, shortened by a random share
/// of up to `jitter` of it, so that daemons that lost the database together do not all return at the same
/// instant, and the wait never exceeds `maximum`.
public struct Backoff: Sendable, Hashable {
    /// The wait after the first failure.
    public var initial: Duration
    /// The longest wait.
    public var maximum: Duration
    /// How much each consecutive failure lengthens the wait.
    public var multiplier: Double
    /// The largest share (0...1) by which a wait is randomly shortened.
    public var jitter: Double

    /// A backoff policy; values are clamped to sensible ranges (multiplier ≥ 1, jitter within 0...1).
    public init(initial: Duration, maximum: Duration, multiplier: Double = 2, jitter: Double = 0.2) {
        self.initial = max(initial, .zero)
        self.maximum = max(maximum, self.initial)
        self.multiplier = max(multiplier, 1)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// 0.1 s doubling up to 10 s, up to 20 % shorter at random.
    public static let `default` = Backoff(initial: .milliseconds(100), maximum: .seconds(10))

    /// The wait after `failures` consecutive failures (1 for the first), given a random number in 0..<1.
    public func delay(afterFailures failures: Int, unitRandom: Double) -> Duration {
        let exponent = Double(min(max(failures, 1) - 1, 64))
        let base = min(seconds(initial) * Self.power(multiplier, exponent), seconds(maximum))
        let shortened = base * (1 - jitter * min(max(unitRandom, 0), 1))
        return .nanoseconds(Int64(shortened * 1e9))
    }

    /// The wait after `failures` consecutive failures, with system randomness.
    public func delay(afterFailures failures: Int) -> Duration {
        delay(afterFailures: failures, unitRandom: Double.random(in: 0..<1))
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    // The standard library has no pow without Foundation; the exponent is a small whole number.
    private static func power(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) {
            result *= base
            if result > 1e12 { break }
        }
        return result
    }
}
