import ConnectorKit
import Foundation
import Logging
import PipelineLoader

/// `sluice checkpoints show|reset`: a pipeline's committed position, read and changed where it
/// lives (the state folder, or the sink's own store such as PostgreSQL), through the same
/// `SinkCommitter` the engine uses, so a reset is a commit like any other.
public struct CheckpointTool: Sendable {
    public let pipeline: Pipeline
    let store: any CheckpointStore
    let logger: Logger

    public init(pipeline: Pipeline, store: any CheckpointStore, logger: Logger) {
        self.pipeline = pipeline
        self.store = store
        self.logger = logger
    }

    public struct FileLine: Sendable, Equatable {
        public var path: String
        public var offset: Int64
        public var lines: Int64
        /// The file's size now; nil when it is gone (or the source cannot tell).
        public var size: Int64?
        public var completed: Bool
    }

    public struct Report: Sendable {
        public var checkpoint: Checkpoint
        public var files: [FileLine]
        /// Matching files that no commit has touched yet.
        public var unseen: [FileEntry]
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The committed checkpoint, with the files' sizes now.
    public func show() async throws -> Report {
        let committer = SinkCommitter(sink: pipeline.sink, store: store)
        let checkpoint = try await committer.open(pipeline: pipeline.name)
        try? await pipeline.sink.close()
        var entries: [String: FileEntry] = [:]
        var listed: [FileEntry] = []
        if let source = pipeline.source as? any FileReadingSource {
            listed = (try? await source.listFiles(logger: logger)) ?? []
            for e in listed { entries[e.path] = e }
            await source.endRun(context: RunContext(pipeline: pipeline.name, logger: logger))
            await source.shutdown()
        }
        let files = checkpoint.files.keys.sorted().map { path in
            let c = checkpoint.files[path]!
            return FileLine(path: path, offset: c.offset, lines: c.lines, size: entries[path]?.size, completed: c.completed)
        }
        return Report(checkpoint: checkpoint, files: files, unseen: listed.filter { checkpoint.files[$0.path] == nil })
    }

    public enum ResetMode: Sendable, Equatable {
        /// Forget the cursor: the next run reads the file from its start.
        case start
        /// Move the cursor past the complete records in the file now: the next run reads only what
        /// is written from here on.
        case end
    }

    /// Changes the cursors of `file` (or of every file) and commits the result. Returns the paths
    /// changed.
    @discardableResult
    public func reset(file: String?, to mode: ResetMode) async throws -> [String] {
        let committer = SinkCommitter(sink: pipeline.sink, store: store)
        var checkpoint = try await committer.open(pipeline: pipeline.name)
        var sourceToEnd: (any FileReadingSource)?
        do {
            var changed: [String] = []
            switch mode {
            case .start:
                let paths = file.map { [$0] } ?? checkpoint.files.keys.sorted()
                if let file, checkpoint.files[file] == nil {
                    throw Failure(description: "the checkpoint of \(pipeline.name) has no file '\(file)' (it has: \(checkpoint.files.keys.sorted().joined(separator: ", ")))")
                }
                for p in paths { checkpoint.files[p] = nil }
                changed = paths
            case .end:
                guard let source = pipeline.source as? any FileReadingSource, let decoder = pipeline.decoder else {
                    throw Failure(description: "--to-end needs a source that reads files and a decoder")
                }
                sourceToEnd = source
                let listed = try await source.listFiles(logger: logger)
                let targets = file.map { f in listed.filter { $0.path == f } } ?? listed
                if let file, targets.isEmpty { throw Failure(description: "no file '\(file)' matches the source of \(pipeline.name) now") }
                for entry in targets {
                    checkpoint.files[entry.path] = try await cursorAtEnd(entry, source: source, decoder: decoder)
                    changed.append(entry.path)
                }
                sourceToEnd = nil
                await source.endRun(context: RunContext(pipeline: pipeline.name, logger: logger))
                await source.shutdown()
            }
            _ = try await committer.commit(checkpoint)
            try await pipeline.sink.close()
            return changed
        } catch {
            // The source may have started a helper or a connection before the failure.
            if let source = sourceToEnd {
                await source.endRun(context: RunContext(pipeline: pipeline.name, logger: logger))
                await source.shutdown()
            }
            try? await pipeline.sink.close()
            throw error
        }
    }

    /// The cursor a run would have after reading every complete record of the file now: the
    /// same checksums and decoder state (a CSV header), so the tailer recognises the file.
    func cursorAtEnd(_ entry: FileEntry, source: any FileReadingSource, decoder: any RecordDecoder) async throws -> FileCursor {
        var tracker = FileCursorTracker(cursor: FileCursor())
        var session = try decoder.makeSession(file: entry.path, state: nil)
        var carry: [UInt8] = []
        var offset: Int64 = 0
        let chunk = TailerOptions.defaultChunkSize
        while offset < entry.size {
            let bytes = try await source.readFile(entry.path, offset: offset, length: Int(min(Int64(chunk), entry.size - offset)))
            if bytes.isEmpty { break }
            offset += Int64(bytes.count)
            carry += bytes
            let atEnd = offset >= entry.size
            var pos = 0
            var decoded = DecodedRecords()
            carry.withUnsafeBytes { all in
                while pos < all.count {
                    let context = DecodeContext(file: entry.path, offset: tracker.cursor.offset, line: tracker.cursor.lines + 1, atEnd: atEnd, maxRows: 65_536)
                    let (consumed, lines) = session.decode(UnsafeRawBufferPointer(rebasing: all[pos...]), context: context, output: &decoded)
                    _ = decoded.takeTextBatch(file: entry.path, input: [])
                    _ = decoded.takeDeadLetters()
                    if consumed == 0 { break }
                    tracker.consume(UnsafeRawBufferPointer(rebasing: all[pos..<(pos + consumed)]), lines: lines)
                    pos += consumed
                }
            }
            carry.removeFirst(pos)
        }
        tracker.setDecoderState(session.state)
        return tracker.cursor
    }
}
