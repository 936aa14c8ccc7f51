import ConnectorKit
import Foundation
import Logging

/// Checks a source that emits records (not bytes) against what the engine relies on for
/// exactly-once: it resumes from the cursor it emitted with the last committed batch, so a run
/// after a crash neither repeats a committed record nor skips one it still has.
///
/// The check runs the source for real (against its real server) three times:
/// 1. from an empty checkpoint;
/// 2. from the checkpoint committed after the first half of run 1's batches (a crash after that
///    commit): no record of the committed half may come again and, for a replayable source,
///    every record of the uncommitted half must;
/// 3. from the checkpoint after run 2: again nothing committed comes again.
///
/// and once with its stop token already set, from the start: it must return after at most one batch.
///
/// Records are told apart by `key`, a column the source fills with a value unique in its stream:
/// a sequence number for a live source (a poller), a record id for a replayable one. A live source
/// must number its records in increasing order across runs.
public enum RecordSourceConformance {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    public struct Options: Sendable {
        /// The column that identifies a record.
        public var key: String
        /// True when a run from an older checkpoint emits the same records again (a database
        /// cursor, a replayable log); false for a live source, which only promises increasing keys.
        public var replayable: Bool
        /// The longest a run may take before the source counts as hung.
        public var runTimeout: Double

        public init(key: String, replayable: Bool, runTimeout: Double = 60) {
            self.key = key
            self.replayable = replayable
            self.runTimeout = runTimeout
        }
    }

    /// What one run emitted.
    struct Emitted: Sendable {
        /// Dead letters count as a batch without records (and without a schema).
        var batches: [(keys: [String], stream: String, cursor: FileCursor, schema: Schema?)] = []
    }

    /// Runs the check on a fresh source from `makeSource` for each run (as a restarted process
    /// would build it). Throws `Failure` naming the first broken rule.
    public static func check(makeSource: @escaping @Sendable () throws -> any Source, options: Options) async throws {
        let first = try await run(makeSource(), from: Checkpoint(), options: options)
        guard first.batches.count >= 2 else {
            throw Failure(description: "run 1 emitted \(first.batches.count) batch(es); the check needs at least 2 (let the source emit smaller batches)")
        }
        try checkShape(first, options: options, run: 1)
        let committedHalf = first.batches.count / 2
        var checkpoint = Checkpoint()
        for b in first.batches.prefix(committedHalf) { checkpoint.files[b.stream] = b.cursor }
        let committed = first.batches.prefix(committedHalf).flatMap(\.keys)
        let uncommitted = first.batches.dropFirst(committedHalf).flatMap(\.keys)

        let second = try await run(makeSource(), from: checkpoint, options: options)
        try checkShape(second, options: options, run: 2)
        let secondKeys = second.batches.flatMap(\.keys)
        let repeated = Set(committed).intersection(secondKeys)
        guard repeated.isEmpty else {
            throw Failure(description: "run 2, from the checkpoint committed after \(committedHalf) batch(es), emitted \(repeated.count) committed record(s) again, e.g. \(options.key) = \(repeated.sorted().first!)")
        }
        if options.replayable {
            guard Array(secondKeys.prefix(uncommitted.count)) == uncommitted else {
                let missing = Set(uncommitted).subtracting(secondKeys)
                throw Failure(description: "run 2 did not emit again the \(uncommitted.count) record(s) run 1 emitted after the commit (\(missing.count) missing, e.g. \(options.key) = \(missing.sorted().first ?? "-"))")
            }
        } else {
            try checkIncreasing(committed + secondKeys, options: options, what: "runs 1 (committed part) and 2")
        }

        for b in second.batches { checkpoint.files[b.stream] = b.cursor }
        let third = try await run(makeSource(), from: checkpoint, options: options)
        try checkShape(third, options: options, run: 3)
        let allCommitted = Set(committed + secondKeys)
        let again = allCommitted.intersection(third.batches.flatMap(\.keys))
        guard again.isEmpty else {
            throw Failure(description: "run 3 emitted \(again.count) record(s) committed by runs 1 and 2 again, e.g. \(options.key) = \(again.sorted().first!)")
        }
        if !options.replayable { try checkIncreasing(committed + secondKeys + third.batches.flatMap(\.keys), options: options, what: "runs 1 to 3") }

        // Asked to stop before it starts, a source emits at most one batch (and returns within
        // `runTimeout`, which `run` enforces). How fast is for the plugin's own tests to time:
        // under a loaded test run, wall-clock limits here would fail sources that did stop.
        let stop = StopToken()
        stop.stop()
        let stopped = try await run(makeSource(), from: Checkpoint(), options: options, stop: stop)
        guard stopped.batches.count <= 1 else {
            throw Failure(description: "a run asked to stop emitted \(stopped.batches.count) batches; it must return after at most one")
        }
    }

    static func run(_ source: any Source, from checkpoint: Checkpoint, options: Options, stop: StopToken = StopToken()) async throws -> Emitted {
        let emitted = Locked(Emitted())
        let context = RunContext(pipeline: "record-source-conformance", logger: Logger(label: "conformance"), stop: stop)
        let key = options.key
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await source.run(from: checkpoint, context: context) { event in
                    if case let .deadLetters(_, stream, cursor) = event {
                        emitted.withLock { $0.batches.append(([], stream, cursor, nil)) }
                        return
                    }
                    guard case let .records(batch, stream, cursor) = event else {
                        throw Failure(description: "a record source emitted \(event), not .records")
                    }
                    guard let column = batch.schema.fields.firstIndex(where: { $0.name == key }) else {
                        throw Failure(description: "a batch has no column '\(key)' (columns: \(batch.schema.fields.map(\.name).joined(separator: ", ")))")
                    }
                    guard batch.count > 0 else { throw Failure(description: "an empty batch was emitted (emit nothing instead)") }
                    guard batch.origins.lines.count == batch.count, batch.origins.file == stream else {
                        throw Failure(description: "a batch's origins do not name a position per record in stream '\(stream)' (dead letters need them)")
                    }
                    let keys = (0..<batch.count).map { batch.value(row: $0, column: column).description }
                    emitted.withLock { $0.batches.append((keys, stream, cursor, batch.schema)) }
                }
                await source.endRun(context: context)
                return true
            }
            group.addTask {
                try await Task.sleep(for: .seconds(options.runTimeout))
                return false
            }
            let finished = try await group.next() ?? false
            group.cancelAll()
            if !finished {
                stop.stop()
                throw Failure(description: "a run did not return within \(options.runTimeout) s")
            }
        }
        return emitted.withLock { $0 }
    }

    static func checkShape(_ emitted: Emitted, options: Options, run: Int) throws {
        let schemas = emitted.batches.compactMap(\.schema)
        if let schema = schemas.first, let other = schemas.first(where: { $0 != schema }) {
            throw Failure(description: "run \(run): the schema changed between batches (\(schema.fields.map(\.name)) then \(other.fields.map(\.name)))")
        }
        let keys = emitted.batches.flatMap(\.keys)
        if keys.contains("null") { throw Failure(description: "run \(run): a record has a null \(options.key)") }
        if Set(keys).count != keys.count { throw Failure(description: "run \(run): the same \(options.key) came twice in one run") }
    }

    /// Keys compare as numbers when they are numbers (sequence numbers), else as text.
    static func checkIncreasing(_ keys: [String], options: Options, what: String) throws {
        for (a, b) in zip(keys, keys.dropFirst()) {
            let increasing = if let x = Double(a), let y = Double(b) { x < y } else { a < b }
            if !increasing { throw Failure(description: "\(what): \(options.key) went from \(a) to \(b); a live source must number its records in increasing order") }
        }
    }
}
