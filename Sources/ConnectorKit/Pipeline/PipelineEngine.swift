import Foundation
import Logging

/// Runs a pipeline once: reads what is new, decodes, transforms, writes and commits.
///
/// Three concurrent stages joined by bounded queues (back-pressure): the source, the processing
/// stage (decoder and transforms) and the sink stage, which alone commits. Cursors advance only in
/// checkpoints the sink has committed together with its data, so a crash at any point replays
/// from the last commit: nothing lost, nothing twice.
public struct PipelineEngine: Sendable {
    public let pipeline: Pipeline
    public let checkpointStore: any CheckpointStore
    /// The `Checkpoint.outputs` key of this process's dead-letter file (see
    /// `DeadLetterWriter.outputKey(instance:)`).
    public let deadLetterKey: String

    public init(pipeline: Pipeline, checkpointStore: any CheckpointStore, deadLetterKey: String = DeadLetterWriter.outputKey) {
        self.pipeline = pipeline
        self.checkpointStore = checkpointStore
        self.deadLetterKey = deadLetterKey
    }

    /// Runs once, and again after a lost connection (server down at start, restarted, a cut or
    /// stalled connection), waiting 1, 2, 4 … `maxDelay` seconds between attempts. Each attempt
    /// resumes from the last committed checkpoint, so retries neither lose nor repeat records.
    /// `attempts` bounds consecutive failures: an attempt that committed something starts the
    /// count (and the backoff) again, so a long load survives many separate faults.
    public func runRetrying(context: RunContext, attempts: Int, maxDelay: Double = 30) async throws {
        try await repeating(after: .notConnected, context: context, { try await runOnce(context: context) }) { error, failures in
            guard failures < attempts else { throw error }
            let delay = BackoffPolicy(maxDelay: maxDelay).delay(afterFailures: failures)
            context.logger.warning("\(error); retrying in \(String(format: "%.1f", delay)) s (attempt \(failures + 1) of \(attempts))")
            context.stats.update { $0.retries += 1 }
            try await Task.sleep(for: .seconds(delay))
        }
    }

    /// Runs `attempt` again while it fails with `code` and the run is not stopped. `handle` gets
    /// the failure and how many such failures came in a row with no commit between them; it
    /// throws to give up, or waits before the next attempt.
    private func repeating(after code: ConnectorError.Code, context: RunContext, _ attempt: () async throws -> Void,
                           handle: (ConnectorError, Int) async throws -> Void) async throws {
        var failuresInARow = 0
        while true {
            let commitsBefore = context.stats.counts.commits
            do {
                try await attempt()
                return
            } catch let error as ConnectorError where error.code == code && !context.stop.isStopped {
                if context.stats.counts.commits > commitsBefore { failuresInARow = 0 }
                failuresInARow += 1
                try await handle(error, failuresInARow)
            }
        }
    }

    /// Runs once. Throws the first failure; what was committed before it stays committed.
    ///
    /// Who failed decides what is committed (see `Sink`): when the source or a transform fails, the
    /// sink is healthy and what it holds is committed before the run fails; when the sink (or the
    /// dead-letter output, part of the same commit) fails, nothing more is committed: the sink is
    /// closed, and the next run opens it again and replays from its last durable checkpoint.
    /// `sink.close()` and `source.endRun()` run on every path.
    ///
    /// A sink that rolled back to look for a refused record (`ConnectorError.Code.replay`) is
    /// opened again at once and the run reads again from its last commit; a sink that asks for
    /// that `maxReplaysWithoutCommit` times in a row without committing fails the run.
    public func runOnce(context: RunContext) async throws {
        try await repeating(after: .replay, context: context, { try await runAttempt(context: context) }) { error, replays in
            guard replays <= Self.maxReplaysWithoutCommit else { throw error }
            context.logger.notice("\(error); reading again from the last commit")
            context.stats.update { $0.replays += 1 }
        }
    }

    /// A sink keeps asking for a replay only while each one ends in a commit.
    public static let maxReplaysWithoutCommit = 3

    private func runAttempt(context: RunContext) async throws {
        do {
            try await runOnceBody(context: context)
        } catch {
            do { try await pipeline.sink.close() } catch let closeError {
                context.logger.warning("closing the sink after a failure failed too: \(closeError)")
            }
            await pipeline.source.endRun(context: context)
            throw error
        }
        do { try await pipeline.sink.close() } catch {
            await pipeline.source.endRun(context: context)
            throw error
        }
        await pipeline.source.endRun(context: context)
    }

    private func runOnceBody(context: RunContext) async throws {
        let p = pipeline
        let started = Date().timeIntervalSince1970
        let committer = SinkCommitter(sink: p.sink, store: checkpointStore)
        var checkpoint = try await committer.open(pipeline: p.name)
        context.stats.settleUncertainCommit(opened: checkpoint)
        let deadLetters = try DeadLetterWriter(path: p.deadLetterPath, pipeline: p.name,
                                               committedLength: checkpoint.outputs[deadLetterKey], key: deadLetterKey)
        if checkpoint.outputs[deadLetterKey] == nil {
            // First run: commit the outputs' current lengths before writing anything, so that a
            // crash before the first real commit cuts our writes off instead of keeping them twice.
            checkpoint.outputs[deadLetterKey] = try deadLetters.sync()
            checkpoint = try await committer.commit(checkpoint)
        }
        let resumeFrom = checkpoint
        let events = BoundedQueue<SourceEvent>(capacity: 4)
        let items = BoundedQueue<SinkItem>(capacity: 4)
        let transformContext = TransformContext(pipeline: p.name, runStarted: started)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await p.source.run(from: resumeFrom, context: context) { try await events.send($0) }
                    events.finish()
                } catch {
                    // What was read before the failure still flows downstream and is committed.
                    events.finish(throwing: error)
                    throw error
                }
            }
            group.addTask {
                do {
                    var stage = ProcessingStage(pipeline: p, context: context, transformContext: transformContext)
                    while let event = try await events.next() {
                        for item in try stage.handle(event) { try await items.send(item) }
                    }
                    items.finish()
                } catch {
                    events.fail(error)
                    items.finish(throwing: error)
                    throw error
                }
            }
            var sinkStage = SinkStage(pipeline: p, context: context, checkpoint: resumeFrom, deadLetters: deadLetters, committer: committer)
            var upstreamFailure: (any Error)?
            do {
                while true {
                    let next: SinkItem?
                    do { next = try await items.next() } catch { upstreamFailure = error; break }
                    guard let item = next else { break }
                    try await sinkStage.handle(item)
                }
                // The input ended, or the source or a transform failed: either way the sink is
                // healthy, so what it holds is committed.
                try await sinkStage.commitIfDirty()
            } catch {
                // The sink stage failed (write, flush, dead letters or commit): commit nothing.
                sinkStage.abandon()
                items.fail(error)
                events.fail(error)
                group.cancelAll()
                throw error
            }
            if let upstreamFailure {
                group.cancelAll()
                throw upstreamFailure
            }
            try await group.waitForAll()
        }
    }
}

/// Decoder sessions and transforms; turns source events into sink items.
struct ProcessingStage {
    let pipeline: Pipeline
    let context: RunContext
    let transformContext: TransformContext

    private struct OpenFile {
        var session: (any DecoderSession)?
        var tracker: FileCursorTracker
        var carry: [UInt8] = []
        /// Kept from chunk to chunk (empty between them): its buffers keep the size a chunk's
        /// records needed instead of growing anew for each.
        var decoded = DecodedRecords()
    }
    private var files: [String: OpenFile] = [:]

    init(pipeline: Pipeline, context: RunContext, transformContext: TransformContext) {
        self.pipeline = pipeline
        self.context = context
        self.transformContext = transformContext
    }

    mutating func handle(_ event: SourceEvent) throws -> [SinkItem] {
        switch event {
        case let .open(open):
            guard let decoder = pipeline.decoder else {
                throw ConnectorError(.configuration, "the source reads files but no decoder (csv or log) is configured", pipeline: pipeline.name)
            }
            if open.reason != .new {
                context.logger.debug("reading file", metadata: ["file": "\(open.file)", "from": "\(open.cursor.offset)", "reason": "\(open.reason.rawValue)"])
            }
            var tracker = FileCursorTracker(cursor: open.cursor, window: open.window)
            var session = try decoder.makeSession(file: open.file, state: open.cursor.decoderState)
            tracker.setDecoderState(session.state)
            files[open.file] = OpenFile(session: session, tracker: tracker)
            return []
        case let .bytes(file, bytes):
            guard var f = files[file] else { return [] }
            if f.carry.isEmpty {
                f.carry = bytes
            } else {
                // Exactly the leftover and the chunk: a buffer of the chunk's size class, reused
                // from the heap, not one grown by doubling past the mmap threshold and faulted in.
                var joined: [UInt8] = []
                joined.reserveCapacity(f.carry.count + bytes.count)
                joined += f.carry
                joined += bytes
                f.carry = joined
            }
            files[file] = nil // keep the buffer uniquely referenced while decoding
            let out = try drain(&f, file: file, atEnd: false)
            files[file] = f
            return out
        case let .close(file, final):
            guard var f = files.removeValue(forKey: file) else { return [] }
            var out = try drain(&f, file: file, atEnd: final)
            if !f.carry.isEmpty {
                let pending = Int64(f.carry.count)
                context.stats.update { $0.pendingBytes += pending; $0.filesWithPendingBytes += 1 }
                context.logger.debug("last record has no line end yet; it waits for the next run",
                                     metadata: ["file": "\(file)", "bytes": "\(pending)"])
            }
            out.append(.fileDone(file: file, cursor: f.tracker.cursor, final: final && f.carry.isEmpty))
            return out
        case let .records(batch, file, cursor):
            context.stats.update { $0.recordsDecoded += Int64(batch.count) }
            let (result, letters) = try applyTransforms(batch)
            return [.data(result, letters, file: file, cursor: cursor)]
        case let .deadLetters(letters, file, cursor):
            return [.data(nil, letters, file: file, cursor: cursor)]
        }
    }

    private func applyTransforms(_ batch: RecordBatch) throws -> (RecordBatch?, [DeadLetter]) {
        try applyTransforms(batch, from: 0, letters: [])
    }

    private func applyTransforms(_ batch: RecordBatch, from first: Int, letters: [DeadLetter]) throws -> (RecordBatch?, [DeadLetter]) {
        var current = batch
        var letters = letters
        for (name, transform) in pipeline.transforms[first...] {
            if current.isEmpty { break }
            var collector = DeadLetterCollector(stage: name)
            current = try transform.process(current, context: transformContext, deadLetters: &collector)
            letters.append(contentsOf: collector.letters)
        }
        return (current.isEmpty ? nil : current, letters)
    }

    /// Decoded text through the transforms: the first one reads the fields in place when it can.
    private func applyTransforms(_ text: TextBatch) throws -> (RecordBatch?, [DeadLetter]) {
        guard let (name, first) = pipeline.transforms.first, let textTransform = first as? any TextTransform else {
            return try applyTransforms(text.recordBatch())
        }
        var collector = DeadLetterCollector(stage: name)
        let batch = try textTransform.process(text: text, context: transformContext, deadLetters: &collector)
        return try applyTransforms(batch, from: 1, letters: collector.letters)
    }

    /// Decodes all complete records in the carry buffer, cutting batches of `batchRows`.
    private func drain(_ f: inout OpenFile, file: String, atEnd: Bool) throws -> [SinkItem] {
        guard var session = f.session else { return [] }
        var results: [(TextBatch?, [DeadLetter], FileCursor)] = []
        var decoded = DecodedRecords()
        swap(&decoded, &f.decoded)
        defer { swap(&decoded, &f.decoded) }
        var pos = 0
        let maxRows = pipeline.batchRows
        // Batches point into the carry buffer: this copy shares its storage, and the buffer is
        // not changed until they are cut (removeFirst below then copies only the leftover).
        let input = f.carry
        input.withUnsafeBytes { all in
            while pos < all.count {
                let ctx = DecodeContext(file: file, offset: f.tracker.cursor.offset, line: f.tracker.cursor.lines + 1,
                                        atEnd: atEnd, maxRows: maxRows - decoded.count, inputIndex: pos)
                let (consumed, lines) = session.decode(UnsafeRawBufferPointer(rebasing: all[pos...]), context: ctx, output: &decoded)
                if consumed > 0 {
                    f.tracker.consume(UnsafeRawBufferPointer(rebasing: all[pos..<(pos + consumed)]), lines: lines)
                    pos += consumed
                }
                let full = !decoded.hasRoom(maxRows)
                if full || consumed == 0 || pos == all.count {
                    f.tracker.setDecoderState(session.state)
                    if decoded.count > 0 || !decoded.deadLetters.isEmpty || consumed > 0 {
                        let letters = decoded.takeDeadLetters()
                        let batch = decoded.count > 0 ? decoded.takeTextBatch(file: file, input: input) : nil
                        results.append((batch, letters, f.tracker.cursor))
                    }
                    if !full { break }
                }
            }
        }
        f.session = session
        // The leftover (a partial record) in a buffer of its own size: the batches keep the old one.
        if pos > 0 { f.carry = pos == f.carry.count ? [] : Array(f.carry[pos...]) }
        var items: [SinkItem] = []
        for (batch, decodeLetters, cursor) in results {
            var letters = decodeLetters
            var transformed: RecordBatch?
            if let batch {
                context.stats.update { $0.recordsDecoded += Int64(batch.count) }
                let (r, l) = try applyTransforms(batch)
                transformed = r
                letters.append(contentsOf: l)
            }
            items.append(.data(transformed, letters, file: file, cursor: cursor))
        }
        return items
    }
}

/// Writes to the sink and the dead-letter file; commits.
///
/// Counts become final only when their commit returns: `recordsWritten` and `deadLetters` in the
/// run's stats are committed counts; what a failure took back is counted as rolled back.
struct SinkStage {
    let pipeline: Pipeline
    let context: RunContext
    var checkpoint: Checkpoint
    let deadLetters: DeadLetterWriter
    let committer: SinkCommitter
    private var pendingRecords: Int64 = 0
    private var pendingLetters: Int64 = 0
    private var uncommitted = 0
    private var dirty = false
    private var lastCommit = Date().timeIntervalSince1970

    init(pipeline: Pipeline, context: RunContext, checkpoint: Checkpoint, deadLetters: DeadLetterWriter, committer: SinkCommitter) {
        self.pipeline = pipeline
        self.context = context
        self.checkpoint = checkpoint
        self.deadLetters = deadLetters
        self.committer = committer
    }

    mutating func handle(_ item: SinkItem) async throws {
        switch item {
        case let .data(batch, letters, file, cursor):
            var letters = letters
            if let batch, !batch.isEmpty {
                let refused = try await pipeline.sink.write(batch)
                let written = Int64(batch.count - refused.count)
                context.stats.update { $0.recordsSent += written }
                pendingRecords += written
                uncommitted += batch.count
                letters += refused
            }
            if !letters.isEmpty {
                try deadLetters.append(letters, at: Date().timeIntervalSince1970)
                pendingLetters += Int64(letters.count)
                uncommitted += letters.count
            }
            checkpoint.files[file] = cursor
            dirty = true
            if uncommitted >= pipeline.commitRows || Date().timeIntervalSince1970 - lastCommit >= pipeline.commitSeconds {
                try await commit()
            }
        case let .fileDone(file, cursor, final):
            var c = cursor
            if final { c.completed = true }
            if checkpoint.files[file] != c { checkpoint.files[file] = c; dirty = true }
            guard final else { return }
            try await commit()
            do {
                try await pipeline.source.didCommit(file: file, cursor: c, context: context)
                checkpoint.files[file] = nil
                dirty = true
            } catch {
                context.logger.error("after-load action failed; it is retried on the next run: \(error)", metadata: ["file": "\(file)"])
                context.stats.update { $0.fileErrors += 1; $0.errors.append("\(file): after-load action failed: \(error)") }
            }
        }
    }

    mutating func commitIfDirty() async throws {
        if dirty { try await commit() }
    }

    /// The run failed in the sink stage: what was sent since the last commit is not committed.
    func abandon() {
        guard pendingRecords > 0 || pendingLetters > 0 else { return }
        let (records, letters) = (pendingRecords, pendingLetters)
        context.stats.update { $0.recordsRolledBack += records; $0.deadLettersRolledBack += letters }
    }

    private mutating func commit() async throws {
        let late = try await pipeline.sink.flush()
        if !late.isEmpty {
            try deadLetters.append(late, at: Date().timeIntervalSince1970)
            let n = Int64(late.count)
            pendingLetters += n
            pendingRecords -= n
            context.stats.update { $0.recordsSent -= n }
        }
        checkpoint.outputs[deadLetters.key] = try deadLetters.sync()
        let attempt = UncertainCommit(sequence: checkpoint.sequence + 1, records: pendingRecords, deadLetters: pendingLetters)
        do {
            checkpoint = try await committer.commit(checkpoint)
        } catch {
            if (error as? ConnectorError)?.code == .fenced {
                // Refused before anything landed: another writer's checkpoint holds this sequence.
                abandon()
                pendingRecords = 0
                pendingLetters = 0
                throw error
            }
            // A commit cut off mid-way may or may not have landed: the next open tells (its
            // checkpoint has this sequence or not), and the counts follow.
            context.stats.update { $0.uncertainCommit = attempt }
            pendingRecords = 0
            pendingLetters = 0
            throw error
        }
        let (records, letters) = (pendingRecords, pendingLetters)
        context.stats.update { $0.recordsWritten += records; $0.deadLetters += letters; $0.commits += 1 }
        pendingRecords = 0
        pendingLetters = 0
        uncommitted = 0
        dirty = false
        lastCommit = Date().timeIntervalSince1970
        await pipeline.source.committed(checkpoint, context: context)
    }
}
