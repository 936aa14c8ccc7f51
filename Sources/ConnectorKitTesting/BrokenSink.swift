import ConnectorKit

/// A sink with one deliberate defect, to show that a conformance check fails when the contract
/// is broken (a check that cannot fail proves nothing).
public actor BrokenSink: Sink {
    public enum Fault: Sendable {
        /// `open` hides the committed output lengths from the sink, so bytes written after the last
        /// commit are kept instead of cut off (what the JSONL sink would do without its truncation).
        case keepsUncommittedOutput
        /// `open` hides the committed sequence from the sink, so files a commit made durable after
        /// the last saved checkpoint are kept (what the Parquet sink would do without its cleanup).
        case ignoresCommittedSequence
        /// Every `commit` stores the checkpoint of the first commit, not its own: the data moves
        /// on, the checkpoint does not (a sink keeping its own checkpoint that writes it wrong).
        case storesAStaleCheckpoint
    }

    let inner: any Sink
    let fault: Fault
    private var firstCommitted: Checkpoint?

    public init(_ inner: any Sink, fault: Fault) {
        self.inner = inner
        self.fault = fault
    }

    public nonisolated var checkpointCustody: CheckpointCustody { inner.checkpointCustody }
    public nonisolated var commitPolicy: CommitPolicy? { inner.commitPolicy }

    public func open(context: SinkContext) async throws -> Checkpoint {
        var hidden = context
        switch fault {
        case .keepsUncommittedOutput: hidden.committed = context.committed.map { var c = $0; c.outputs = [:]; return c }
        case .ignoresCommittedSequence: hidden.committed = context.committed.map { var c = $0; c.sequence = .max; return c }
        case .storesAStaleCheckpoint: break
        }
        let opened = try await inner.open(context: hidden)
        return context.committed ?? opened
    }

    public func write(_ batch: RecordBatch) async throws -> [DeadLetter] { try await inner.write(batch) }
    public func flush() async throws -> [DeadLetter] { try await inner.flush() }
    public func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint {
        guard fault == .storesAStaleCheckpoint else { return try await inner.commit(checkpoint) }
        // The first commit's cursors under this commit's sequence: a sink that fences on the
        // sequence takes it, and the data moves on while the cursors do not.
        var stale = firstCommitted ?? checkpoint
        firstCommitted = stale
        stale.sequence = checkpoint.sequence
        _ = try await inner.commit(stale)
        return checkpoint
    }
    public func close() async throws { try await inner.close() }
}
