/// Turns the bytes of one file into records (the first `[[transform]]` of a file pipeline).
///
/// ## Implementation requirements
/// - Only complete records are emitted; a partial last record is left unconsumed and comes
///   back, with more bytes, in the next call.
/// - Feeding a file byte by byte or in one piece gives the same records
///   (`ConnectorKitTesting.DecoderVerifier` checks it).
public protocol RecordDecoder: Sendable {
    /// A session for one file. `state` is what a previous session's `state` returned when the
    /// file was last committed (nil for a file read from the start).
    func makeSession(file: String, state: String?) throws -> any DecoderSession
}

/// Decodes one file. Not shared between tasks: the engine owns it.
public protocol DecoderSession {
    /// Decodes the complete records at the start of `input`.
    /// - Returns: the bytes consumed (the end of the last complete record, or of skipped junk),
    ///   and the number of line feeds in them. Stops early once `output` holds `context.maxRows`.
    mutating func decode(_ input: UnsafeRawBufferPointer, context: DecodeContext, output: inout DecodedRecords) -> (consumed: Int, lines: Int64)
    /// State to keep in the checkpoint so a later session can resume mid-file.
    var state: String? { mutating get }
}

public struct DecodeContext: Sendable {
    public var file: String
    /// File offset of `input[0]`.
    public var offset: Int64
    /// 1-based line number of `input[0]`.
    public var line: Int64
    /// The input ends the file for good: a trailing record without a terminator is complete.
    public var atEnd: Bool
    public var maxRows: Int

    public init(file: String, offset: Int64, line: Int64, atEnd: Bool, maxRows: Int) {
        self.file = file
        self.offset = offset
        self.line = line
        self.atEnd = atEnd
        self.maxRows = maxRows
    }
}

/// Records decoded so far, as string columns, plus any dead letters.
public struct DecodedRecords: Sendable {
    public private(set) var names: [String]
    public var columns: [StringColumn]
    public var lines: [Int64] = []
    public var byteOffsets: [Int64] = []
    public var raw = StringColumn()
    public var rawEncoding: String
    public var deadLetters: [DeadLetter] = []

    public init(names: [String] = [], rawEncoding: String = "utf-8") {
        self.names = names
        columns = names.map { _ in StringColumn() }
        self.rawEncoding = rawEncoding
    }

    public var count: Int { lines.count }

    /// Sets the column names. Only allowed while empty (a batch has one schema).
    public mutating func setNames(_ names: [String]) {
        precondition(count == 0, "column names change inside a batch")
        self.names = names
        columns = names.map { _ in StringColumn() }
    }

    /// Builds the batch and empties the buffer (keeping the names).
    public mutating func takeBatch(file: String) -> RecordBatch {
        let batch = RecordBatch(
            schema: .strings(names),
            columns: columns.map { Column(.string($0)) },
            origins: RecordOrigins(file: file, lines: lines, byteOffsets: byteOffsets, raw: raw, rawEncoding: rawEncoding))
        columns = names.map { _ in StringColumn() }
        lines = []
        byteOffsets = []
        raw = StringColumn()
        return batch
    }

    public mutating func takeDeadLetters() -> [DeadLetter] {
        defer { deadLetters = [] }
        return deadLetters
    }
}
