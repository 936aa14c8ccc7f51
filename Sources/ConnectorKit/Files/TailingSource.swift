import Foundation
import Logging

/// What to do with a file once it is loaded to its end and committed.
public enum AfterLoad: Sendable, Hashable {
    case keep
    case delete
    /// Move into this directory (relative to the file system's root, or absolute).
    case move(String)
}

public struct TailerOptions: Sendable {
    public var glob: Glob
    /// Files modified less than this many seconds ago are left for a later run (still being written).
    public var settleSeconds: Double
    public var afterLoad: AfterLoad
    /// Bytes per read request.
    public var chunkSize: Int
    /// Deepest directory level walked, a guard against symlink loops on remote systems.
    public var maxDepth: Int

    /// Bytes per read request unless a source asks otherwise.
    public static let defaultChunkSize = 1 << 18

    public init(glob: Glob, settleSeconds: Double = 0, afterLoad: AfterLoad = .keep, chunkSize: Int = TailerOptions.defaultChunkSize, maxDepth: Int = 32) {
        self.glob = glob
        self.settleSeconds = settleSeconds
        self.afterLoad = afterLoad
        self.chunkSize = chunkSize
        self.maxDepth = maxDepth
    }
}

/// The one file tailer, shared by every file source (local folders, SMB, SFTP).
///
/// For each file the glob matches it decides, from the checkpoint's `FileCursor`, what to read:
/// - no cursor: a new file, read from 0;
/// - same head and tail-window checksums and not smaller: appended to, or rewritten in place with
///   the same history, so only the bytes after the cursor are read;
/// - smaller than the cursor, or a checksum differs: truncated, rotated or replaced, so it is read
///   again from 0 as a new file, and the log says so.
/// Identity is path plus content checksums, never a first line: CSV files with identical headers
/// and empty files stay distinct.
public struct TailingSource<FS: FileSystem>: Source {
    public let fileSystem: FS
    public let options: TailerOptions
    private let now: @Sendable () -> Double

    public init(fileSystem: FS, options: TailerOptions, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.fileSystem = fileSystem
        self.options = options
        self.now = now
    }

    public func run(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
        do {
            try await tailAll(from: checkpoint, context: context, emit: emit)
        } catch let error as FileSystemError {
            // What ends the whole run (a lost server, refused credentials) becomes a ConnectorError
            // the engine acts on: retry with backoff, or wait for the next scheduled run.
            let code: ConnectorError.Code = switch error.kind {
            case .notConnected: .notConnected
            case .authentication: .authentication
            case .misconfigured: .configuration
            default: .io
            }
            throw ConnectorError(code, error.message, plugin: fileSystem.displayName, file: error.path.isEmpty ? nil : error.path)
        }
    }

    private func tailAll(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
        let log = context.logger
        let entries = try await listMatchingFiles(log: log)
        let started = now()
        for entry in entries {
            if context.stop.isStopped { break }
            if options.settleSeconds > 0, started - entry.modified < options.settleSeconds {
                log.debug("file not settled yet, left for a later run", metadata: ["file": "\(entry.path)"])
                continue
            }
            do {
                try await tailThenFinish(entry, cursor: checkpoint.files[entry.path], context: context, emit: emit)
            } catch let error as FileSystemError where error.kind == .notFound {
                log.warning("file vanished while it was being read; what was read so far is kept", metadata: ["file": "\(entry.path)"])
                try await emit(.close(file: entry.path, final: false))
            } catch let error as FileSystemError where error.kind == .permissionDenied || error.kind == .other {
                log.error("cannot read file: \(error.message)", metadata: ["file": "\(entry.path)"])
                context.stats.update { $0.fileErrors += 1; $0.errors.append("\(fileSystem.displayName)/\(entry.path): \(error.message)") }
                try await emit(.close(file: entry.path, final: false))
            }
        }
    }

    public func endRun(context: RunContext) async {
        await fileSystem.finishRun()
    }

    public func shutdown() async {
        await fileSystem.shutdown()
    }

    public func didCommit(file: String, cursor: FileCursor, context: RunContext) async throws {
        switch options.afterLoad {
        case .keep: return
        case .delete:
            try await fileSystem.remove(file)
            context.logger.info("deleted loaded file", metadata: ["file": "\(file)"])
        case let .move(dir):
            try await fileSystem.move(file, intoDirectory: dir)
            context.logger.info("moved loaded file", metadata: ["file": "\(file)", "to": "\(dir)"])
        }
    }

    /// Walks the directories the glob can reach and returns matching regular files,
    /// oldest first (so rotated files load in the order they were written).
    func listMatchingFiles(log: Logger) async throws -> [FileEntry] {
        var found: [FileEntry] = []
        var pending: [(String, Int)] = [("", 0)]
        while let (dir, depth) = pending.popLast() {
            let entries: [FileEntry]
            do {
                entries = try await fileSystem.listDirectory(dir)
            } catch let e as FileSystemError where dir != "" && (e.kind == .permissionDenied || e.kind == .notFound) {
                log.warning("cannot list directory: \(e.message)", metadata: ["directory": "\(dir)"])
                continue
            }
            for entry in entries {
                switch entry.kind {
                case .directory:
                    if depth + 1 < options.maxDepth, options.glob.mayMatchBelow(entry.path) {
                        pending.append((entry.path, depth + 1))
                    } else if options.glob.matches(entry.path) {
                        log.debug("a directory matches the glob; skipped", metadata: ["path": "\(entry.path)"])
                    }
                case .file:
                    if options.glob.matches(entry.path) { found.append(entry) }
                case .symlink, .other:
                    if options.glob.matches(entry.path) {
                        log.warning("not a regular file (symlink loop, device or socket); skipped", metadata: ["path": "\(entry.path)"])
                    }
                }
            }
        }
        return found.sorted { ($0.modified, $0.path) < ($1.modified, $1.path) }
    }

    private func tailThenFinish(_ entry: FileEntry, cursor: FileCursor?, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
        do {
            try await tail(entry, cursor: cursor, context: context, emit: emit)
        } catch {
            await fileSystem.finishReading(entry.path)
            throw error
        }
        await fileSystem.finishReading(entry.path)
    }

    private func tail(_ entry: FileEntry, cursor saved: FileCursor?, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws {
        let path = entry.path
        let log = context.logger
        var start = FileCursor()
        var window: [UInt8] = []
        var reason = FileOpen.Reason.new
        if let saved {
            if entry.size < saved.offset {
                log.notice("file is smaller than what was already read (truncated or rotated); reading it again from the start",
                           metadata: ["file": "\(path)", "size": "\(entry.size)", "was": "\(saved.offset)"])
                reason = .restarted
            } else if let w = try await verify(path, saved) {
                if saved.completed && entry.size == saved.offset && options.afterLoad != .keep {
                    // Loaded and committed, but the after-load action did not happen (crash or error): do it now.
                    try await didCommit(file: path, cursor: saved, context: context)
                    return
                }
                if entry.size == saved.offset { return }
                start = saved
                start.completed = false
                window = w
                reason = .resumed
            } else {
                log.notice("file content before the saved position changed (replaced or rotated); reading it again from the start",
                           metadata: ["file": "\(path)"])
                reason = .restarted
            }
        }
        context.stats.update {
            $0.filesOpened += 1
            if reason == .restarted { $0.filesRestarted += 1 }
            $0.newestSourceModified = max($0.newestSourceModified ?? entry.modified, entry.modified)
        }
        try await emit(.open(FileOpen(file: path, cursor: start, window: window, reason: reason, size: entry.size)))
        var offset = start.offset
        while offset < entry.size {
            if context.stop.isStopped { break }
            let want = Int(min(Int64(options.chunkSize), entry.size - offset))
            let bytes = try await fileSystem.read(path, offset: offset, length: want)
            if bytes.isEmpty {
                log.warning("file shrank while it was being read; the rest is left for the next run", metadata: ["file": "\(path)"])
                break
            }
            offset += Int64(bytes.count)
            context.stats.update { $0.bytesRead += Int64(bytes.count) }
            try await emit(.bytes(file: path, bytes))
        }
        let final = offset >= entry.size && options.afterLoad != .keep && !context.stop.isStopped
        try await emit(.close(file: path, final: final))
    }

    /// Re-reads the head and the window before the saved offset; returns the window bytes when
    /// both checksums still match, `nil` when the content changed.
    private func verify(_ path: String, _ c: FileCursor) async throws -> [UInt8]? {
        if c.headLength > 0 {
            let head = try await fileSystem.read(path, offset: 0, length: Int(c.headLength))
            guard head.count == Int(c.headLength), CRC32(head).value == c.headCRC else { return nil }
        }
        guard c.windowLength > 0 else { return [] }
        let w = try await fileSystem.read(path, offset: c.offset - c.windowLength, length: Int(c.windowLength))
        guard w.count == Int(c.windowLength), CRC32(w).value == c.windowCRC else { return nil }
        return w
    }
}

/// A source over files, as tools see it (`sluice checkpoints`): the files it would read now, and
/// their bytes.
public protocol FileReadingSource: Source {
    /// The matching files, oldest first, as a run would see them.
    func listFiles(logger: Logger) async throws -> [FileEntry]
    func readFile(_ path: String, offset: Int64, length: Int) async throws -> [UInt8]
}

extension TailingSource: FileReadingSource {
    public func listFiles(logger: Logger) async throws -> [FileEntry] { try await listMatchingFiles(log: logger) }

    public func readFile(_ path: String, offset: Int64, length: Int) async throws -> [UInt8] {
        try await fileSystem.read(path, offset: offset, length: length)
    }
}
