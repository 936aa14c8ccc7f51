import Logging
import Synchronization

/// Asks a running pipeline to stop after the current batch (SIGTERM, shutdown).
public final class StopToken: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func stop() { flag.store(true, ordering: .relaxed) }
    public var isStopped: Bool { flag.load(ordering: .relaxed) }
}

/// What every plugin gets while a pipeline runs.
public struct RunContext: Sendable {
    public var pipeline: String
    public var logger: Logger
    public var stop: StopToken
    public var stats: RunStats

    /// `stats` defaults to counters that also feed the process's metrics (`PipelineMetrics`).
    public init(pipeline: String, logger: Logger, stop: StopToken = StopToken(), stats: RunStats? = nil) {
        self.pipeline = pipeline
        self.logger = logger
        self.stop = stop
        self.stats = stats ?? RunStats(metrics: PipelineMetrics(pipeline: pipeline))
    }
}

/// Counters of one run, updated by the stages and read by progress output and metrics.
public final class RunStats: Sendable {
    private let state = Locked(Counts())

    public struct Counts: Sendable, Equatable {
        public var filesOpened = 0
        public var filesRestarted = 0
        public var fileErrors = 0
        public var bytesRead: Int64 = 0
        public var recordsDecoded: Int64 = 0
        /// Records handed to the sink and accepted by it, committed or not (for progress output).
        public var recordsSent: Int64 = 0
        /// Records committed: durable in the target with the checkpoint that covers them.
        public var recordsWritten: Int64 = 0
        /// Dead letters committed with their checkpoint.
        public var deadLetters: Int64 = 0
        /// Records and dead letters sent in an attempt that failed before their commit; a retry or
        /// the next run loads them again.
        public var recordsRolledBack: Int64 = 0
        public var deadLettersRolledBack: Int64 = 0
        /// A commit that failed mid-way (the connection was cut during COMMIT): whether it landed
        /// is learnt when the sink is opened again.
        public var uncertainCommit: UncertainCommit?
        public var commits = 0
        /// Attempts repeated after a lost connection (server down or restarted).
        public var retries = 0
        /// Attempts read again at once because the sink asked to load them more carefully (it
        /// rolled them back to find a refused record).
        public var replays = 0
        /// Bytes left unconsumed at the end of files because their last record has no terminator yet.
        public var pendingBytes: Int64 = 0
        public var filesWithPendingBytes = 0
        /// The newest modification time (seconds since the epoch) among the files this run read
        /// new bytes from: when the newest data it loaded was written at the source.
        public var newestSourceModified: Double?
        public var errors: [String] = []
    }

    private let metrics: PipelineMetrics?

    /// With `metrics`, every change of a count is also added to the pipeline's cumulative counters.
    public init(metrics: PipelineMetrics? = nil) { self.metrics = metrics }

    public var counts: Counts { state.withLock { $0 } }

    public func update(_ body: (inout Counts) -> Void) {
        guard let metrics else { return state.withLock { body(&$0) } }
        let (before, after) = state.withLock { c -> (Counts, Counts) in
            let before = c
            body(&c)
            return (before, c)
        }
        metrics.add(from: before, to: after)
    }

    /// Settles an uncertain commit once the sink reports its durable checkpoint: the commit
    /// landed when that checkpoint carries its sequence.
    public func settleUncertainCommit(opened: Checkpoint) {
        update { c in
            guard let u = c.uncertainCommit else { return }
            c.uncertainCommit = nil
            if opened.sequence >= u.sequence {
                c.recordsWritten += u.records
                c.deadLetters += u.deadLetters
                c.commits += 1
            } else {
                c.recordsRolledBack += u.records
                c.deadLettersRolledBack += u.deadLetters
            }
        }
    }
}

/// The counts of a commit whose outcome is not known yet.
public struct UncertainCommit: Sendable, Equatable {
    public var sequence: Int64
    public var records: Int64
    public var deadLetters: Int64
}
