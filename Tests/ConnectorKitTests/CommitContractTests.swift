import ConnectorKit
import ConnectorKitTesting
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

/// The engine's side of the commit contract (see `Sink`): after the sink fails, nothing is
/// committed until it is opened again; after the source fails, what the healthy sink holds is.
@Suite(.blockingWork) struct CommitContractTests {
    /// A transactional sink in memory that, like a database connection that drops, loses the rows
    /// written since its last commit when a write fails, and fails the write of batch `failAt`
    /// once. It does not refuse a commit after the failure: that part is the engine's to keep.
    final class DroppingSink: Sink {
        let inner = CollectingSink()
        private let failAt: Int
        private let writes = Mutex(0)
        init(failAt: Int) { self.failAt = failAt }
        var checkpointCustody: CheckpointCustody { .sink }
        func open(context: SinkContext) async throws -> Checkpoint { try await inner.open(context: context) }
        func write(_ batch: RecordBatch) async throws -> [DeadLetter] {
            let n = writes.withLock { $0 += 1; return $0 }
            if n == failAt {
                inner.crash() // the transaction died with the connection
                throw ConnectorError(.notConnected, "connection lost (injected)")
            }
            return try await inner.write(batch)
        }
        func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint { try await inner.commit(checkpoint) }
    }

    static func batches(_ n: Int) -> [RecordBatch] {
        (0..<n).map { i in
            RecordBatch(schema: Schema([Field("x", .int64)]), columns: [Column(.int64([Int64(i * 10), Int64(i * 10 + 1)]))],
                        origins: RecordOrigins(file: "m", lines: [1, 2], byteOffsets: [0, 1]))
        }
    }

    func pipeline(_ source: any Source, _ sink: any Sink, commitRows: Int = 4) -> Pipeline {
        // Commits by row count only (never by the clock), so what is committed when is certain.
        Pipeline(name: "contract", source: source, decoder: nil, transforms: [], sink: sink,
                 deadLetterPath: TestCleanup.removeAtExit(NSTemporaryDirectory() + "sluice-contract-dl-\(UInt64.random(in: 0...UInt64.max)).jsonl"), commitRows: commitRows, commitSeconds: 3600)
    }

    /// The sink fails in the middle of a transaction: the failed run commits nothing more, the
    /// retry replays from the last durable checkpoint, and every row is there once.
    @Test func aSinkFailureCommitsNothingAndTheRetryReplays() async throws {
        let sink = DroppingSink(failAt: 4) // batches 0,1 commit (4 rows); batch 2 pending; batch 3 fails
        let engine = PipelineEngine(pipeline: pipeline(InMemorySource(batches: Self.batches(6)), sink), checkpointStore: InMemoryCheckpointStore())
        let context = RunContext(pipeline: "contract", logger: Logger(label: "t"))
        try await engine.runRetrying(context: context, attempts: 3, maxDelay: 0)
        let values = sink.inner.rows.compactMap { if case let .int(v) = $0["x"] { v } else { nil } }
        #expect(values == Self.batches(6).flatMap { b in (0..<b.count).map { if case let .int(v) = b.value(row: $0, column: 0) { v } else { -1 } } },
                "rows lost or repeated: \(values)")
        let c = context.stats.counts
        #expect(c.retries == 1)
        #expect(c.recordsWritten == 12, "committed count \(c.recordsWritten)")
        #expect(c.recordsRolledBack == 2, "rolled back \(c.recordsRolledBack)") // batch 2, lost with the failure
    }

    /// A sink that refuses the batch holding `refusedValue` the way a fast bulk load does: it
    /// cannot say which row, so it drops the transaction and asks for a replay, then (careful)
    /// refuses that row alone as a dead letter. `alwaysReplay` asks again every time.
    final class ReplayingSink: Sink {
        let inner = CollectingSink()
        private let refusedValue: Int64
        private let alwaysReplay: Bool
        private let careful = Mutex(false)
        init(refusedValue: Int64, alwaysReplay: Bool = false) {
            self.refusedValue = refusedValue
            self.alwaysReplay = alwaysReplay
        }
        var checkpointCustody: CheckpointCustody { .sink }
        func open(context: SinkContext) async throws -> Checkpoint { try await inner.open(context: context) }
        func write(_ batch: RecordBatch) async throws -> [DeadLetter] {
            guard let bad = (0..<batch.count).first(where: { batch.value(row: $0, column: 0) == .int(refusedValue) }) else {
                return try await inner.write(batch)
            }
            if alwaysReplay || !careful.withLock({ $0 }) {
                careful.withLock { $0 = true }
                inner.crash()
                throw ConnectorError(.replay, "a row was refused (injected)")
            }
            let keep = (0..<batch.count).filter { $0 != bad }
            _ = try await inner.write(RecordBatch(schema: batch.schema, columns: [Column(.int64(keep.map { Int64($0) + (refusedValue / 10) * 10 }))],
                                                  origins: RecordOrigins(file: "m", lines: keep.map { Int64($0 + 1) }, byteOffsets: keep.map { Int64($0) })))
            return [DeadLetter(origin: batch.origins.origin(bad), stage: "test", reason: "refused (injected)", raw: [])]
        }
        func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint { try await inner.commit(checkpoint) }
    }

    /// A sink that asks for a replay is opened again at once and the run reads again from its last
    /// commit: every row once, the refused one as a dead letter, no retry after backoff.
    @Test func aReplayReadsAgainFromTheLastCommitAtOnce() async throws {
        let sink = ReplayingSink(refusedValue: 41) // batch 4 (rows 40, 41); commits every 4 rows
        let engine = PipelineEngine(pipeline: pipeline(InMemorySource(batches: Self.batches(6)), sink), checkpointStore: InMemoryCheckpointStore())
        let context = RunContext(pipeline: "contract", logger: Logger(label: "t"))
        try await engine.runOnce(context: context)
        let values = sink.inner.rows.compactMap { if case let .int(v) = $0["x"] { v } else { nil } }
        #expect(values == [0, 1, 10, 11, 20, 21, 30, 31, 40, 50, 51], "rows lost or repeated: \(values)")
        let c = context.stats.counts
        #expect(c.replays == 1)
        #expect(c.retries == 0)
        #expect(c.deadLetters == 1)
        #expect(c.recordsWritten == 11)
    }

    /// A sink that keeps asking for a replay without ever committing fails the run.
    @Test func aSinkThatKeepsAskingForReplaysFailsTheRun() async throws {
        let sink = ReplayingSink(refusedValue: 41, alwaysReplay: true)
        let engine = PipelineEngine(pipeline: pipeline(InMemorySource(batches: Self.batches(6)), sink), checkpointStore: InMemoryCheckpointStore())
        let context = RunContext(pipeline: "contract", logger: Logger(label: "t"))
        await #expect(throws: ConnectorError.self) { try await engine.runOnce(context: context) }
        #expect(context.stats.counts.replays == PipelineEngine.maxReplaysWithoutCommit)
        let values = sink.inner.rows.compactMap { if case let .int(v) = $0["x"] { v } else { nil } }
        #expect(values == [0, 1, 10, 11, 20, 21, 30, 31], "only the commits before the refused batch: \(values)")
    }

    /// A source that fails after some batches: the sink is healthy, so what it holds is committed.
    struct FailingSource: Source {
        let batches: [RecordBatch]
        func run(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
            let done = Int(checkpoint.files["memory"]?.offset ?? 0)
            for (i, b) in batches.enumerated() where i >= done {
                var cursor = FileCursor()
                cursor.offset = Int64(i + 1)
                try await emit(.records(b, file: "memory", cursor: cursor))
            }
            throw ConnectorError(.io, "the share went away (injected)")
        }
    }

    @Test func aSourceFailureCommitsWhatTheHealthySinkHolds() async throws {
        let sink = CollectingSink()
        let engine = PipelineEngine(pipeline: pipeline(FailingSource(batches: Self.batches(3)), sink, commitRows: 1000), checkpointStore: InMemoryCheckpointStore())
        await #expect(throws: ConnectorError.self) {
            try await engine.runOnce(context: RunContext(pipeline: "contract", logger: Logger(label: "t")))
        }
        #expect(sink.rows.count == 6)
        #expect(sink.checkpoint.files["memory"]?.offset == 3)
    }

    /// The suite's severed-connection check fails a sink that commits after a failed write.
    @Test func theSeveredCheckCatchesASinkThatCommitsAfterAFailure() async throws {
        let store = InMemoryCheckpointStore()
        let shared = CollectingSink()
        final class Severable: Sink, @unchecked Sendable {
            // @unchecked: `severed` is set by the test between awaited calls, never concurrently.
            let inner: CollectingSink
            var severed = false
            init(_ inner: CollectingSink) { self.inner = inner }
            var checkpointCustody: CheckpointCustody { .sink }
            func open(context: SinkContext) async throws -> Checkpoint { try await inner.open(context: context) }
            func write(_ batch: RecordBatch) async throws -> [DeadLetter] {
                if severed { severed = false; inner.crash(); throw ConnectorError(.notConnected, "severed") }
                return try await inner.write(batch)
            }
            func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint { try await inner.commit(checkpoint) }
        }
        let sink = Severable(shared)
        let target = SinkConformance.Target(pipeline: "broken", makeSink: { sink }, store: store,
                                            readBack: { shared.batches.flatMap { b in (0..<b.count).map { SinkConformance.canonical(b, row: $0) } } })
        await #expect(throws: SinkConformance.Failure.self) {
            try await SinkConformance.checkSevered(target, sever: { sink.severed = true }, restore: {})
        }
    }
}
