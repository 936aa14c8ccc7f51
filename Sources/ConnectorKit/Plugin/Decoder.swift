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
    /// Where `input[0]` sits in the buffer the caller keeps with the batch (`takeTextBatch`), so
    /// fields may point into the input instead of being copied. Nil: the input is temporary.
    public var inputIndex: Int?

    public init(file: String, offset: Int64, line: Int64, atEnd: Bool, maxRows: Int, inputIndex: Int? = nil) {
        self.file = file
        self.offset = offset
        self.line = line
        self.atEnd = atEnd
        self.maxRows = maxRows
        self.inputIndex = inputIndex
    }
}

/// Records decoded so far, as text fields, plus any dead letters.
///
/// A field is a range of bytes: of the input itself when the caller keeps it
/// (`DecodeContext.inputIndex`), otherwise of a buffer the decoder copies into. Nothing is
/// copied per field in the first case.
public struct DecodedRecords: Sendable {
    public private(set) var names: [String]
    /// `start, end` of each field, record by record (`SharedText` positions).
    public private(set) var fieldBounds: [Int32] = []
    /// `start, end` of each record's raw bytes.
    public private(set) var rawBounds: [Int32] = []
    public private(set) var copied: [UInt8] = []
    public private(set) var lines: [Int64] = []
    public var byteOffsets: [Int64] = []
    public var rawEncoding: String
    public var deadLetters: [DeadLetter] = []
    /// Position in the kept buffer of the current input's first byte; nil: copy.
    public private(set) var inputShift: Int?
    private var pointsIntoInput = false
    private var pendingFields = 0

    public init(names: [String] = [], rawEncoding: String = "utf-8") {
        self.names = names
        self.rawEncoding = rawEncoding
    }

    public var count: Int { lines.count }

    /// Room for another record: under `maxRows`, and the copy buffer under its limit.
    @inlinable
    public func hasRoom(_ maxRows: Int) -> Bool { count < maxRows && copied.count < SharedText.maxCopied }

    /// Sets the column names. Only allowed while empty (a batch has one schema).
    public mutating func setNames(_ names: [String]) {
        precondition(count == 0, "column names change inside a batch")
        self.names = names
    }

    /// Called by a decoder at the start of each input it scans, with `DecodeContext.inputIndex`
    /// adjusted for any bytes it skipped before `input[0]`.
    public mutating func beginInput(index: Int?, count: Int) {
        if let index, index + count <= SharedText.maxInput { inputShift = index } else { inputShift = nil }
    }

    /// Appends a field of the record being built: `input[from..<to]`.
    @inlinable
    public mutating func appendField(_ input: UnsafeBufferPointer<UInt8>, from: Int, to: Int) {
        if let shift = inputShift {
            appendPositions(Int32(truncatingIfNeeded: shift + from), Int32(truncatingIfNeeded: shift + to))
        } else {
            appendCopiedField(UnsafeBufferPointer(rebasing: input[from..<to]))
        }
    }

    /// Appends the fields at `relative` (`start, end` pairs of indices into the current input).
    public mutating func appendFields(_ input: UnsafeBufferPointer<UInt8>, relative: UnsafeBufferPointer<Int32>) {
        guard let shift = inputShift else {
            var k = 0
            while k < relative.count {
                appendCopiedField(UnsafeBufferPointer(rebasing: input[Int(relative[k])..<Int(relative[k + 1])]))
                k += 2
            }
            return
        }
        let old = fieldBounds.count
        fieldBounds.append(contentsOf: relative)
        if shift != 0 {
            let s = Int32(truncatingIfNeeded: shift)
            fieldBounds.withUnsafeMutableBufferPointer { b in
                for i in old..<b.count { b[i] &+= s }
            }
        }
        pointsIntoInput = true
        pendingFields += relative.count / 2
    }

    /// Appends a field whose bytes the decoder made (unescaped or transcoded text).
    public mutating func appendCopiedField(_ bytes: UnsafeBufferPointer<UInt8>) {
        precondition(copied.count + bytes.count < SharedText.copiedLimit, "a batch's copied text outgrew its Int32 positions")
        let start = SharedText.copiedBase + copied.count
        copied.append(contentsOf: bytes)
        fieldBounds.append(Int32(truncatingIfNeeded: start))
        fieldBounds.append(Int32(truncatingIfNeeded: SharedText.copiedBase + copied.count))
        pendingFields += 1
    }

    public mutating func appendCopiedField(_ string: String) {
        var s = string
        s.withUTF8 { appendCopiedField($0) }
    }

    @usableFromInline
    mutating func appendPositions(_ start: Int32, _ end: Int32) {
        fieldBounds.append(start)
        fieldBounds.append(end)
        pointsIntoInput = true
        pendingFields += 1
    }

    /// Ends the record whose fields were just appended; `raw` is `input[from..<to]` as read.
    public mutating func endRecord(line: Int64, byteOffset: Int64, raw input: UnsafeBufferPointer<UInt8>, from: Int, to: Int) {
        precondition(pendingFields == names.count, "a record of \(pendingFields) fields for \(names.count) columns")
        pendingFields = 0
        if let shift = inputShift {
            rawBounds.append(Int32(truncatingIfNeeded: shift + from))
            rawBounds.append(Int32(truncatingIfNeeded: shift + to))
            pointsIntoInput = true
        } else {
            precondition(copied.count + (to - from) < SharedText.copiedLimit, "a batch's copied text outgrew its Int32 positions")
            let start = SharedText.copiedBase + copied.count
            copied.append(contentsOf: UnsafeBufferPointer(rebasing: input[from..<to]))
            rawBounds.append(Int32(truncatingIfNeeded: start))
            rawBounds.append(Int32(truncatingIfNeeded: SharedText.copiedBase + copied.count))
        }
        lines.append(line)
        byteOffsets.append(byteOffset)
    }

    /// Builds the batch and empties the buffer (keeping the names). `input` is the buffer the
    /// `inputIndex` of the decode calls referred to.
    public mutating func takeTextBatch(file: String, input: [UInt8]) -> TextBatch {
        precondition(pendingFields == 0, "a batch taken in the middle of a record")
        let batch = TextBatch(
            names: names, text: SharedText(input: pointsIntoInput ? input : [], copied: copied), fieldBounds: fieldBounds,
            origins: RecordOrigins(file: file, lines: lines, byteOffsets: byteOffsets, raw: nil, rawEncoding: rawEncoding),
            rawBounds: rawBounds)
        fieldBounds = []
        rawBounds = []
        copied = []
        lines = []
        byteOffsets = []
        pointsIntoInput = false
        return batch
    }

    /// Builds a batch of string columns; only for decoding that never pointed into an input.
    public mutating func takeBatch(file: String) -> RecordBatch {
        precondition(!pointsIntoInput, "fields point into an input: use takeTextBatch(file:input:)")
        return takeTextBatch(file: file, input: []).recordBatch()
    }

    public mutating func takeDeadLetters() -> [DeadLetter] {
        defer { deadLetters = [] }
        return deadLetters
    }
}
