import ConnectorKit
import Foundation

/// Checks a sink against the commit contract (see `Sink`) by breaking it for real: a process
/// SIGKILLed between write and commit, and a connection severed in the middle of a transaction,
/// each followed by a reopen and a replay from the checkpoint the sink reports. The target is then
/// read back and compared row by row, every column, with what was committed: a missing, repeated
/// or altered row fails the check.
///
/// Every sink runs it, each under a pipeline name of its own (`Target.pipeline`), so that no
/// checkpoint left by another run can make it pass.
public enum SinkConformance {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    /// The sink under test, and how to read its target back.
    public struct Target: Sendable {
        /// Unique per run: the checkpoint is keyed by it.
        public var pipeline: String
        /// A new instance over the same target (what a restarted process would build).
        public var makeSink: @Sendable () throws -> any Sink
        /// Where the engine keeps checkpoints for sinks that do not keep their own.
        public var store: any CheckpointStore
        /// Every row now durable in the target, rendered as `SinkConformance.canonical` renders
        /// the rows written (all columns, `|`-separated, null as `null`), in any order.
        public var readBack: @Sendable () throws -> [String]

        public init(pipeline: String, makeSink: @escaping @Sendable () throws -> any Sink, store: any CheckpointStore,
                    readBack: @escaping @Sendable () throws -> [String]) {
            self.pipeline = pipeline
            self.makeSink = makeSink
            self.store = store
            self.readBack = readBack
        }
    }

    /// The stream name the conformance load's cursor is kept under.
    public static let stream = "conformance-input"

    /// The load's schema: one column of each kind a sink must carry exactly.
    public static let schema = Schema([
        Field("id", .int64, nullable: false), Field("label", .string), Field("amount", .decimal(precision: 12, scale: 3)),
        Field("reading", .float64), Field("day", .date), Field("at", .timestamp), Field("ok", .bool), Field("spare", .int32),
    ])

    /// Batch `index` of the deterministic load: row values follow from the row's number, so the
    /// expected content of any prefix of the load is known without keeping it.
    public static func batch(_ index: Int, rows: Int = 500) -> RecordBatch {
        let ids = (0..<rows).map { Int64(index * rows + $0) }
        let labels = ids.map { i -> String in
            let odd = ["quote \" here", "back\\slash", "Pressão ÿ", "tab\there", "emoji 🏭", "semi;colon", "apostrophe's", ""]
            return "row \(i) " + odd[Int(i % Int64(odd.count))]
        }
        return RecordBatch(
            schema: schema,
            columns: [
                Column(.int64(ids)),
                Column(.string(StringColumn(labels)), validity: ids.map { $0 % 11 != 0 }),
                Column(.decimal(ids.map { Int128($0) * 1_001 - 500_000 })),
                Column(.float64(ids.map { Double($0) / 4 - 1000 })),
                Column(.date(ids.map { Int32(20_000 + $0 % 40) })),
                Column(.timestamp(ids.map { 1_735_700_400_000_000 + $0 * 5_000_001 })),
                Column(.bool(ids.map { $0 % 3 == 0 })),
                Column(.int32(ids.map { Int32(truncatingIfNeeded: $0 * 7) }), validity: ids.map { $0 % 5 != 0 }),
            ],
            origins: RecordOrigins(file: stream, lines: ids.map { $0 + 1 }, byteOffsets: ids))
    }

    /// A row as the check compares it: every column's value, `|`-separated.
    public static func canonical(_ batch: RecordBatch, row: Int) -> String {
        (0..<batch.schema.count).map { batch.value(row: row, column: $0).description }.joined(separator: "|")
    }

    /// The rows of batches `range`, canonical.
    public static func expected(_ range: Range<Int>) -> [String] {
        range.flatMap { i in let b = batch(i); return (0..<b.count).map { canonical(b, row: $0) } }
    }

    // MARK: Kill between write and commit

    /// What the child process does; run it from a small executable (see `checkKill`). Commits
    /// batches `0..<committed` with their checkpoint, writes and flushes `uncommitted` more without
    /// committing, prints `ready` and waits to be killed.
    public static func runKillChild(_ target: Target, committed: Int, uncommitted: Int) async throws -> Never {
        let committer = SinkCommitter(sink: try target.makeSink(), store: target.store)
        var checkpoint = try await committer.open(pipeline: target.pipeline)
        let from = Int(checkpoint.files[stream]?.offset ?? 0)
        checkpoint = try await load(committer, checkpoint, batches: from..<committed)
        for i in committed..<(committed + uncommitted) { _ = try await committer.sink.write(batch(i)) }
        _ = try await committer.sink.flush()
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        while true { try? await Task.sleep(for: .seconds(3600)) }
    }

    /// SIGKILLs a child between write and commit, then reopens and replays.
    /// - Parameter spawnChild: starts a process that calls `runKillChild(target, committed:, uncommitted:)`
    ///   with these counts, its standard output on the returned pipe.
    public static func checkKill(_ target: Target, committed: Int = 4, uncommitted: Int = 3, total: Int = 10,
                                 spawnChild: (_ committed: Int, _ uncommitted: Int) throws -> (Process, Pipe)) async throws {
        let (child, out) = try spawnChild(committed, uncommitted)
        let said = readLine(out, timeout: 120)
        guard said == "ready" else {
            child.terminate()
            throw Failure(description: "the child process did not get ready (it said \(said.map { "'\($0)'" } ?? "nothing")); exit status \(child.isRunning ? "running" : "\(child.terminationStatus)")")
        }
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        try await reopenAndReplay(target, committed: committed, total: total, after: "a SIGKILL between write and commit")
    }

    // MARK: Connection severed mid-transaction

    /// Commits some batches, writes more, has `sever` cut the connection, and expects the next
    /// write, flush or commit to fail and every later commit to be refused until the sink is
    /// opened again; then `restore`s the path, reopens, replays and compares.
    public static func checkSevered(_ target: Target, committed: Int = 3, total: Int = 10,
                                    sever: () async throws -> Void, restore: () async throws -> Void) async throws {
        let committer = SinkCommitter(sink: try target.makeSink(), store: target.store)
        var checkpoint = try await committer.open(pipeline: target.pipeline)
        guard checkpoint.files[stream] == nil else { throw Failure(description: "pipeline \(target.pipeline) already has a checkpoint: use a fresh name") }
        checkpoint = try await load(committer, checkpoint, batches: 0..<committed)
        for i in committed..<(committed + 2) { _ = try await committer.sink.write(batch(i)) }
        try await sever()
        var cursor = FileCursor()
        cursor.offset = Int64(committed + 3)
        var attempted = checkpoint
        attempted.files[stream] = cursor
        var failedStep: String?
        do {
            failedStep = "write"
            _ = try await committer.sink.write(batch(committed + 2))
            failedStep = "flush"
            _ = try await committer.sink.flush()
            failedStep = "commit"
            _ = try await committer.commit(attempted)
            failedStep = nil
        } catch {}
        guard failedStep != nil else {
            throw Failure(description: "write, flush and commit all succeeded after the connection was severed in the middle of a transaction")
        }
        // The contract: nothing is committed after a failure until the sink is opened again.
        let refused: Bool
        do { _ = try await committer.commit(attempted); refused = false } catch { refused = true }
        try? await committer.sink.close()
        guard refused else {
            throw Failure(description: "after the \(failedStep!) failed on a severed connection, commit still succeeded: the checkpoint now covers rows that died with the transaction")
        }
        try await restore()
        try await reopenAndReplay(target, committed: committed, total: total, after: "a connection severed mid-transaction")
    }

    // MARK: Commit made durable, checkpoint never saved

    /// The sink commits but the process dies before the engine saves the checkpoint (the window
    /// between `Sink.commit` and `CheckpointStore.save`). Reopening must undo that commit (cut a
    /// file back, delete files named with the lost sequence): the target then holds exactly the
    /// rows of the saved checkpoint, and the replay adds the rest once. For sinks whose checkpoint
    /// the engine keeps; a sink that keeps its own commits both in one transaction.
    public static func checkUnrecordedCommit(_ target: Target, committed: Int = 3, total: Int = 10) async throws {
        let store = SaveFailingStore(target.store)
        let committer = SinkCommitter(sink: try target.makeSink(), store: store)
        guard committer.sink.checkpointCustody == .engine else {
            throw Failure(description: "checkUnrecordedCommit applies to sinks whose checkpoint the engine keeps")
        }
        var checkpoint = try await committer.open(pipeline: target.pipeline)
        guard checkpoint.files[stream] == nil else { throw Failure(description: "pipeline \(target.pipeline) already has a checkpoint: use a fresh name") }
        checkpoint = try await load(committer, checkpoint, batches: 0..<committed)
        store.failNextSave()
        do {
            _ = try await load(committer, checkpoint, batches: committed..<(committed + 2))
            throw Failure(description: "the store did not fail as the check arranged")
        } catch is SaveFailingStore.SimulatedCrash {}
        try? await committer.sink.close()
        try await reopenAndReplay(target, committed: committed, total: total, after: "a commit whose checkpoint was never saved")
    }

    /// Passes loads and saves to another store, except one save that fails as if the process died.
    final class SaveFailingStore: CheckpointStore {
        struct SimulatedCrash: Error {}
        let inner: any CheckpointStore
        private let failing = Locked(false)

        init(_ inner: any CheckpointStore) { self.inner = inner }

        func failNextSave() { failing.withLock { $0 = true } }

        func load() async throws -> Checkpoint? { try await inner.load() }

        func save(_ checkpoint: Checkpoint) async throws {
            let fail = failing.withLock { value -> Bool in
                defer { value = false }
                return value
            }
            if fail { throw SimulatedCrash() }
            try await inner.save(checkpoint)
        }
    }

    // MARK: Shared steps

    static func load(_ committer: SinkCommitter, _ start: Checkpoint, batches: Range<Int>) async throws -> Checkpoint {
        var checkpoint = start
        for i in batches {
            _ = try await committer.sink.write(batch(i))
            _ = try await committer.sink.flush()
            var cursor = FileCursor()
            cursor.offset = Int64(i + 1)
            checkpoint.files[stream] = cursor
            checkpoint = try await committer.commit(checkpoint)
        }
        return checkpoint
    }

    static func reopenAndReplay(_ target: Target, committed: Int, total: Int, after event: String) async throws {
        let committer = SinkCommitter(sink: try target.makeSink(), store: target.store)
        let checkpoint = try await committer.open(pipeline: target.pipeline)
        let resumed = Int(checkpoint.files[stream]?.offset ?? -1)
        guard resumed == committed else {
            throw Failure(description: "after \(event), open returned a checkpoint at batch \(resumed); \(committed) were committed")
        }
        try compare(try target.readBack(), expected(0..<committed), when: "after \(event) and a reopen")
        let final = try await load(committer, checkpoint, batches: committed..<total)
        try await committer.sink.close()
        guard final.files[stream]?.offset == Int64(total) else { throw Failure(description: "the replay's checkpoint ends at \(final.files[stream]?.offset ?? -1), not \(total)") }
        try compare(try target.readBack(), expected(0..<total), when: "after \(event) and the replay")
    }

    /// Row-for-row, all-column comparison as multisets: counts missing, repeated and altered rows.
    public static func compare(_ actual: [String], _ expected: [String], when: String) throws {
        if actual.count == expected.count && actual.sorted() == expected.sorted() { return }
        var counts: [String: Int] = [:]
        for r in expected { counts[r, default: 0] += 1 }
        var extra: [String] = []
        for r in actual {
            if let n = counts[r], n > 0 { counts[r] = n - 1 } else { extra.append(r) }
        }
        let missing = counts.filter { $0.value > 0 }.flatMap { Array(repeating: $0.key, count: $0.value) }.sorted()
        throw Failure(description: "\(when): the target holds \(actual.count) rows, expected \(expected.count); "
            + "\(missing.count) expected rows missing (e.g. \(missing.first ?? "-")), \(extra.count) rows not expected or repeated (e.g. \(extra.sorted().first ?? "-"))")
    }

    /// The first line a child prints, or nil after `timeout` seconds.
    static func readLine(_ pipe: Pipe, timeout: Double) -> String? {
        let fd = pipe.fileHandleForReading.fileDescriptor
        var line: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            var byte: UInt8 = 0
            let n = read(fd, &byte, 1)
            if n <= 0 { break }
            if byte == 0x0A { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
    }
}
