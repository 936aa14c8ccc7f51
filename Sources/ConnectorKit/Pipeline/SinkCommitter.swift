import Foundation
/// Opens and commits a sink with its checkpoint where it belongs (see `Sink`, "Where the
/// checkpoint lives"): from and to the store when the engine keeps it, nowhere else when the sink
/// keeps it with its data. The engine drives every sink through this; conformance suites and
/// tools that drive a sink by hand use it too, so they commit exactly as the engine does.
public struct SinkCommitter: Sendable {
    public let sink: any Sink
    public let store: any CheckpointStore

    public init(sink: any Sink, store: any CheckpointStore) {
        self.sink = sink
        self.store = store
    }

    /// Opens the sink and returns its last durable checkpoint.
    public func open(pipeline: String) async throws -> Checkpoint {
        let stored = sink.checkpointCustody == .engine ? try await store.load() : nil
        return try await sink.open(context: SinkContext(pipeline: pipeline, committed: stored))
    }

    /// Commits `checkpoint` as the next in sequence and returns it as committed. When the engine
    /// keeps the checkpoint it is saved only after the sink's commit returned: a crash in between
    /// leaves the previous one, and the sink's `open` undoes the newer data.
    public func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint {
        var next = checkpoint
        next.sequence += 1
        next.committedAt = Date().timeIntervalSince1970
        let committed = try await sink.commit(next)
        if sink.checkpointCustody == .engine { try await store.save(committed) }
        return committed
    }
}
