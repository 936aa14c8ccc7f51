/// How far a pipeline has committed: one cursor per source file plus the committed length
/// of each local output, saved together so that a crash at any point can be undone.
public struct Checkpoint: Sendable, Codable, Equatable {
    public var version: Int = 1
    /// Commits made so far; the engine adds one before each commit. A sink may name what a commit
    /// makes durable with it (e.g. `part-<sequence>.parquet`) and, on open, remove anything named
    /// with a higher sequence: it was written by a commit whose checkpoint never became durable.
    public var sequence: Int64 = 0
    /// Keyed by the file's path as the source names it.
    public var files: [String: FileCursor] = [:]
    /// Committed byte length of each append-only local output (`sink`, `dead_letter`), so that
    /// bytes written after the last commit are cut off on recovery instead of duplicated.
    public var outputs: [String: Int64] = [:]
    /// A sink's own committed state (e.g. the names of the files a commit made durable), opaque
    /// to the engine and saved with the rest.
    public var sinkState: [String: String] = [:]
    /// Free-form state for sources that do not read files.
    public var sourceState: [String: String] = [:]
    /// When this checkpoint was committed (seconds since the epoch).
    public var committedAt: Double?

    public init() {}

    private enum CodingKeys: String, CodingKey { case version, sequence, files, outputs, sinkState, sourceState, committedAt }

    /// Checkpoints written by earlier versions lack the newer keys: they default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        sequence = try c.decodeIfPresent(Int64.self, forKey: .sequence) ?? 0
        files = try c.decodeIfPresent([String: FileCursor].self, forKey: .files) ?? [:]
        outputs = try c.decodeIfPresent([String: Int64].self, forKey: .outputs) ?? [:]
        sinkState = try c.decodeIfPresent([String: String].self, forKey: .sinkState) ?? [:]
        sourceState = try c.decodeIfPresent([String: String].self, forKey: .sourceState) ?? [:]
        committedAt = try c.decodeIfPresent(Double.self, forKey: .committedAt)
    }
}

/// The position in one file and the evidence that identifies the content already consumed.
///
/// Identity is the path plus checksums of what was consumed: the first bytes (`head`) and a window
/// just before `offset`. A file whose head and window still match and that has grown is the same file
/// appended to, or rewritten in place with the same history (what XP machines do); anything else
/// is a new file and is read from the start. (Older checkpoints also hold a `prefixCRC` that
/// nothing checked; decoding ignores it.)
public struct FileCursor: Sendable, Codable, Equatable {
    /// Bytes consumed: the end of the last complete record handed on.
    public var offset: Int64 = 0
    /// Physical lines consumed (number of line feeds in the consumed bytes).
    public var lines: Int64 = 0
    /// CRC-32 and length of the first `headLength` consumed bytes (at most `FileCursor.headSize`).
    public var headCRC: UInt32 = 0
    public var headLength: Int64 = 0
    /// CRC-32 and length of the `windowLength` bytes that end at `offset` (at most `FileCursor.windowSize`).
    public var windowCRC: UInt32 = 0
    public var windowLength: Int64 = 0
    /// Decoder state that must survive a restart (e.g. a CSV header), opaque to the engine.
    public var decoderState: String?
    /// True once the file was loaded to its end and its after-load action (if any) is due or done.
    public var completed: Bool = false

    public static let headSize: Int64 = 1024
    public static let windowSize: Int64 = 4096

    public init() {}
}

/// Maintains a `FileCursor` as bytes are consumed, keeping the tail window in memory.
public struct FileCursorTracker: Sendable {
    public private(set) var cursor: FileCursor
    private var head: CRC32
    private var window: [UInt8]

    /// Starts tracking at `cursor`. `window` must hold the bytes that end at `cursor.offset`
    /// (the source reads them when it verifies the file), so later windows can be computed.
    public init(cursor: FileCursor, window: [UInt8] = []) {
        self.cursor = cursor
        head = CRC32(resuming: cursor.headCRC)
        self.window = window.suffix(Int(FileCursor.windowSize))
    }

    /// Counts `bytes` as consumed: they follow `cursor.offset` directly.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer, lines: Int64) {
        guard bytes.count > 0 else { return }
        if cursor.headLength < FileCursor.headSize {
            let take = min(Int(FileCursor.headSize - cursor.headLength), bytes.count)
            head.update(UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
            cursor.headLength += Int64(take)
            cursor.headCRC = head.value
        }
        let w = Int(FileCursor.windowSize)
        if bytes.count >= w {
            window = Array(bytes[(bytes.count - w)...])
        } else {
            window.append(contentsOf: bytes)
            if window.count > w { window.removeFirst(window.count - w) }
        }
        cursor.offset += Int64(bytes.count)
        cursor.lines += lines
        cursor.windowLength = Int64(window.count)
        cursor.windowCRC = CRC32(window).value
    }

    public mutating func setDecoderState(_ state: String?) { cursor.decoderState = state }
    public mutating func markCompleted() { cursor.completed = true }
}

