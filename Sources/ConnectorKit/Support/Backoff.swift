/// How long to wait before the next attempt after failures: 1 s, 2 s, 4 s … up to `maxDelay`,
/// each wait shortened by up to `jitter` of itself at random so that pipelines failing together
/// (one server down) do not retry in lockstep. The one backoff of the engine, the daemon and jobs.
public struct BackoffPolicy: Sendable, Equatable {
    public var initialDelay: Double
    public var maxDelay: Double
    /// Fraction of each wait taken off at random (0 … 1).
    public var jitter: Double

    public init(initialDelay: Double = 1, maxDelay: Double, jitter: Double = 0.2) {
        self.maxDelay = max(0, maxDelay)
        self.initialDelay = min(initialDelay, self.maxDelay)
        self.jitter = min(1, max(0, jitter))
    }

    /// The wait after `failures` consecutive failures (≥ 1); `random` is in 0 ..< 1.
    public func delay(afterFailures failures: Int, random: Double = Double.random(in: 0..<1)) -> Double {
        let exponent = Double(min(max(failures, 1) - 1, 30))
        let full = min(maxDelay, initialDelay * pow2(exponent))
        return full * (1 - jitter * random)
    }

    private func pow2(_ e: Double) -> Double {
        var r = 1.0
        for _ in 0..<Int(e) { r *= 2 }
        return r
    }
}
