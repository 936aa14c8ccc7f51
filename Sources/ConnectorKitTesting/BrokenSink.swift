import ConnectorKit

/// A sink with one deliberate defect, to show that a conformance check fails when the contract
/// is broken (a check that cannot fail proves nothing).
public actor BrokenSink: Sink {
    public enum Fault: Sendable {
        /// `open` hides the committed output lengths from the sink, so bytes written after the last
        /// commit are kept instead of cut off (what the JSONL sink would do without its truncation).
        case keepsUncommittedOutput
    }

    let inner: any Sink
    let fault: Fault

    public init(_ inner: any Sink, fault: Fault) {
        self.inner = inner
        self.fault = fault
    }

    public nonisolated var checkpointCustody: CheckpointCustody { inner.checkpointCustody }

    public func open(context: SinkContext) async throws -> Checkpoint {
        guard fault == .keepsUncommittedOutput else { return try await inner.open(context: context) }
        var hidden = context
        hidden.committed = context.committed.map { var c = $0; c.outputs = [:]; return c }
        let opened = try await inner.open(context: hidden)
        return context.committed ?? opened
    }

    public func write(_ batch: RecordBatch) async throws -> [DeadLetter] { try await inner.write(batch) }
    public func flush() async throws -> [DeadLetter] { try await inner.flush() }
    public func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint { try await inner.commit(checkpoint) }
    public func close() async throws { try await inner.close() }
}
