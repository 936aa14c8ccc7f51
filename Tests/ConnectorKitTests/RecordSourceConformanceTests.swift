import ConnectorKit
import ConnectorKitTesting
import Testing
import TestSupport

/// The record-source conformance check passes a source that resumes from its cursor and fails
/// each way of breaking that (so it can fail for a real plugin too).
@Suite(.blockingWork) struct RecordSourceConformanceTests {
    static func batches(_ n: Int) -> [RecordBatch] {
        (0..<n).map { i in
            let ids = [Int64(i * 2), Int64(i * 2 + 1)]
            return RecordBatch(schema: Schema([Field("id", .int64)]), columns: [Column(.int64(ids))],
                               origins: RecordOrigins(file: "memory", lines: ids.map { $0 + 1 }, byteOffsets: ids))
        }
    }

    /// Forgets its checkpoint: every run starts over (a source that never reads `from`).
    struct Forgetful: Source {
        let inner: any Source
        func run(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
            try await inner.run(from: Checkpoint(), context: context, emit: emit)
        }
    }

    /// Skips a batch after resuming: loses what was emitted but not committed.
    struct Skipping: Source {
        let batches: [RecordBatch]
        func run(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
            let done = Int(checkpoint.files["memory"]?.offset ?? 0)
            let start = done == 0 ? 0 : done + 1
            for (i, b) in batches.enumerated() where i >= start {
                var cursor = FileCursor()
                cursor.offset = Int64(i + 1)
                try await emit(.records(b, file: "memory", cursor: cursor))
            }
        }
    }

    @Test func aSourceThatResumesFromItsCursorPasses() async throws {
        let b = Self.batches(6)
        try await RecordSourceConformance.check(makeSource: { InMemorySource(batches: b) }, options: .init(key: "id", replayable: true))
    }

    @Test func aSourceThatForgetsItsCheckpointFails() async throws {
        let b = Self.batches(6)
        let error = await #expect(throws: RecordSourceConformance.Failure.self) {
            try await RecordSourceConformance.check(makeSource: { Forgetful(inner: InMemorySource(batches: b)) }, options: .init(key: "id", replayable: true))
        }
        #expect(error?.description.contains("emitted 6 committed record(s) again") == true, "\(String(describing: error))")
    }

    @Test func aSourceThatSkipsUncommittedRecordsFails() async throws {
        let b = Self.batches(6)
        let error = await #expect(throws: RecordSourceConformance.Failure.self) {
            try await RecordSourceConformance.check(makeSource: { Skipping(batches: b) }, options: .init(key: "id", replayable: true))
        }
        #expect(error?.description.contains("did not emit again") == true, "\(String(describing: error))")
    }

    @Test func aLiveSourceMustNumberItsRecordsInIncreasingOrder() async throws {
        // Replayed records look like a restart of the numbering to a live source's check.
        let b = Self.batches(6)
        let error = await #expect(throws: RecordSourceConformance.Failure.self) {
            try await RecordSourceConformance.check(makeSource: { Forgetful(inner: InMemorySource(batches: b)) }, options: .init(key: "id", replayable: false))
        }
        #expect(error != nil)
    }
}
