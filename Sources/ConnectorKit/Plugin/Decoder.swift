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
    /// Field and raw positions, lines and byte offsets (shared on copy, copied before a change).
    private var positions = RecordPositionStore()
    public private(set) var copied: [UInt8] = []
    /// Records so far.
    public private(set) var count = 0
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

    /// The position store, copied first if another value shares it.
    private mutating func uniquePositions() -> RecordPositionStore {
        if !isKnownUniquelyReferenced(&positions) { positions = positions.copy() }
        return positions
    }

    /// Appends a field of the record being built: `input[from..<to]`.
    public mutating func appendField(_ input: UnsafeBufferPointer<UInt8>, from: Int, to: Int) {
        if let shift = inputShift {
            uniquePositions().appendField(Int32(truncatingIfNeeded: shift + from), Int32(truncatingIfNeeded: shift + to))
            pointsIntoInput = true
            pendingFields += 1
        } else {
            appendCopiedField(UnsafeBufferPointer(rebasing: input[from..<to]))
        }
    }

    /// Appends a whole record: its fields at `fields` (`start, end` pairs of indices into the
    /// current input), its raw bytes `input[from..<to]`. The same as an `appendField` per field
    /// and `endRecord`, in one call (a decoder's fast path).
    public mutating func appendRecord(fields: UnsafeBufferPointer<Int32>, line: Int64, byteOffset: Int64,
                                      raw input: UnsafeBufferPointer<UInt8>, from: Int, to: Int) {
        guard let shift = inputShift else {
            var k = 0
            while k < fields.count {
                appendCopiedField(UnsafeBufferPointer(rebasing: input[Int(fields[k])..<Int(fields[k + 1])]))
                k += 2
            }
            endRecord(line: line, byteOffset: byteOffset, raw: input, from: from, to: to)
            return
        }
        precondition(pendingFields == 0 && fields.count == 2 * names.count,
                     "a record of \(pendingFields + fields.count / 2) fields for \(names.count) columns")
        let store = uniquePositions()
        store.appendFields(fields, adding: Int32(truncatingIfNeeded: shift))
        store.appendRow(rawStart: Int32(truncatingIfNeeded: shift + from), rawEnd: Int32(truncatingIfNeeded: shift + to),
                        line: line, byteOffset: byteOffset)
        pointsIntoInput = true
        count += 1
    }

    /// A decoder's fast path for records whose fields all lie in the current input: `body` writes
    /// their positions straight into the batch's store and commits each record with one call
    /// (no per-record call, check or copy as with `appendRecord`). Nil, without calling `body`,
    /// when the input is not kept (its fields must be copied).
    public mutating func withInputRecordWriter<R>(_ body: (inout InputRecordWriter) throws -> R) rethrows -> R? {
        guard let shift = inputShift else { return nil }
        precondition(pendingFields == 0, "a record's fields appended before the fast path")
        var writer = InputRecordWriter(store: uniquePositions(), shift: Int32(truncatingIfNeeded: shift), count: count, fieldsPerRecord: 2 * names.count)
        defer {
            writer.finish()
            if writer.count > count { pointsIntoInput = true }
            count = writer.count
        }
        return try body(&writer)
    }

    /// Appends a field whose bytes the decoder made (unescaped or transcoded text).
    public mutating func appendCopiedField(_ bytes: UnsafeBufferPointer<UInt8>) {
        precondition(copied.count + bytes.count < SharedText.copiedLimit, "a batch's copied text outgrew its Int32 positions")
        let start = SharedText.copiedBase + copied.count
        copied.append(contentsOf: bytes)
        uniquePositions().appendField(Int32(truncatingIfNeeded: start), Int32(truncatingIfNeeded: SharedText.copiedBase + copied.count))
        pendingFields += 1
    }

    public mutating func appendCopiedField(_ string: String) {
        var s = string
        s.withUTF8 { appendCopiedField($0) }
    }

    /// Ends the record whose fields were just appended; `raw` is `input[from..<to]` as read.
    public mutating func endRecord(line: Int64, byteOffset: Int64, raw input: UnsafeBufferPointer<UInt8>, from: Int, to: Int) {
        precondition(pendingFields == names.count, "a record of \(pendingFields) fields for \(names.count) columns")
        pendingFields = 0
        let rawStart: Int, rawEnd: Int
        if let shift = inputShift {
            (rawStart, rawEnd) = (shift + from, shift + to)
            pointsIntoInput = true
        } else {
            precondition(copied.count + (to - from) < SharedText.copiedLimit, "a batch's copied text outgrew its Int32 positions")
            rawStart = SharedText.copiedBase + copied.count
            copied.append(contentsOf: UnsafeBufferPointer(rebasing: input[from..<to]))
            rawEnd = SharedText.copiedBase + copied.count
        }
        uniquePositions().appendRow(rawStart: Int32(truncatingIfNeeded: rawStart), rawEnd: Int32(truncatingIfNeeded: rawEnd),
                                    line: line, byteOffset: byteOffset)
        count += 1
    }

    /// Replaces the byte offset of each record from `first` on with `transform` of it (a
    /// decoder that scanned a transcoded copy maps offsets back to the file's).
    public mutating func mapByteOffsets(fromRecord first: Int, _ transform: (Int64) -> Int64) {
        uniquePositions().mapByteOffsets(fromRow: first, transform)
    }

    /// Builds the batch and empties the buffer (keeping the names). `input` is the buffer the
    /// `inputIndex` of the decode calls referred to.
    public mutating func takeTextBatch(file: String, input: [UInt8]) -> TextBatch {
        precondition(pendingFields == 0, "a batch taken in the middle of a record")
        let taken = uniquePositions().take()
        let batch = TextBatch(
            names: names, text: SharedText(input: pointsIntoInput ? input : [], copied: copied), fieldBounds: taken.fieldBounds,
            origins: RecordOrigins(file: file, lines: taken.lines, byteOffsets: taken.byteOffsets, raw: nil, rawEncoding: rawEncoding),
            rawBounds: taken.rawBounds)
        copied = []
        count = 0
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

/// Writes whole records into a `DecodedRecords` (`withInputRecordWriter`). It works on copies of
/// the store's pointers and counts, given back when the fast path ends: the store's own
/// properties, reached from code inlined into another module, cost a dynamic exclusivity check
/// on every access.
public struct InputRecordWriter {
    @usableFromInline let store: RecordPositionStore
    @usableFromInline var fields: UnsafeMutablePointer<Int32>
    @usableFromInline var fieldCount: Int
    @usableFromInline var fieldCapacity: Int
    @usableFromInline var raw: UnsafeMutablePointer<Int32>
    @usableFromInline var lines: UnsafeMutablePointer<Int64>
    @usableFromInline var offsets: UnsafeMutablePointer<Int64>
    @usableFromInline var rows: Int
    @usableFromInline var rowCapacity: Int
    /// Added to every position written: where the current input starts in the kept buffer.
    public let shift: Int32
    /// Records in the batch, these included.
    public var count: Int { written }
    @usableFromInline var written: Int
    /// Positions per record: `start, end` per column.
    public let fieldsPerRecord: Int

    @usableFromInline
    init(store: RecordPositionStore, shift: Int32, count: Int, fieldsPerRecord: Int) {
        self.store = store
        self.shift = shift
        written = count
        self.fieldsPerRecord = fieldsPerRecord
        (fields, fieldCount, fieldCapacity) = (store.fields, store.fieldCount, store.fieldCapacity)
        (raw, lines, offsets, rows, rowCapacity) = (store.raw, store.lines, store.offsets, store.rows, store.rowCapacity)
    }

    /// Hands the counts back to the store (its pointers are already its own).
    @usableFromInline
    func finish() {
        store.fieldCount = fieldCount
        store.rows = rows
    }

    /// Where the next record's `fieldsPerRecord` positions go (indices into the current input
    /// plus `shift`). Valid until the next call; nothing counts until `commit`.
    @inlinable @inline(__always)
    public mutating func slots() -> UnsafeMutablePointer<Int32> {
        if fieldCount &+ fieldsPerRecord > fieldCapacity { growFields() }
        return fields + fieldCount
    }

    /// Counts the record whose positions were just written at `slots()`: its raw bytes are
    /// `input[from..<to]`.
    @inlinable @inline(__always)
    public mutating func commit(line: Int64, byteOffset: Int64, from: Int, to: Int) {
        fieldCount &+= fieldsPerRecord
        if rows == rowCapacity { growRows() }
        raw[2 &* rows] = Int32(truncatingIfNeeded: from) &+ shift
        raw[2 &* rows &+ 1] = Int32(truncatingIfNeeded: to) &+ shift
        lines[rows] = line
        offsets[rows] = byteOffset
        rows &+= 1
        written &+= 1
    }

    @usableFromInline
    mutating func growFields() {
        finish()
        store.growFields(to: fieldCount + fieldsPerRecord)
        (fields, fieldCapacity) = (store.fields, store.fieldCapacity)
    }

    @usableFromInline
    mutating func growRows() {
        finish()
        store.growRows()
        (raw, lines, offsets, rowCapacity) = (store.raw, store.lines, store.offsets, store.rowCapacity)
    }
}
